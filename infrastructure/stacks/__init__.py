"""CDK stacks of the event-registration service."""
