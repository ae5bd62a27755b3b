"""The local service of ``make run``: moto in-process, the API, the stream poller and the outbox.

Also used by the tests, so that they run the same AWS stand-in as developers do.
Nothing here is packaged into the Lambda zip.
"""
