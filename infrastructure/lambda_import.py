"""Run Python code against an unzipped Lambda package, importing it as Lambda does.

Lambda's Python runtime puts the package (``/var/task``) first on
``sys.path``, then its own copy of boto3 and botocore with their
dependencies (``/var/runtime``), then the standard library; no other
site-packages. :func:`command` builds an interpreter command line that sees
exactly that: the package directory, a directory holding the runtime's
packages (links to this venv's copies, :func:`make_runtime_dir`), and the
standard library (``-I -S``: no site-packages, no ``PYTHON*`` variables),
with ``-B`` so that no bytecode cache is written (``/var/task`` is
read-only in Lambda: a package without ``.pyc`` files compiles on every
cold start).

Used by ``tests/infrastructure/test_infra_lambda_package.py`` (the trimmed
package still works) and ``benchmarks/cold_start.py`` (cold import CPU).
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

#: What the python3.11 Lambda runtime provides besides the package (boto3 and
#: its dependency closure); ``six`` and ``dateutil`` come with botocore.
RUNTIME_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def make_runtime_dir(target: Path) -> Path:
    """A directory of links to this interpreter's copies of :data:`RUNTIME_MODULES`.

    Raises ``ModuleNotFoundError`` when one is not installed here.
    """
    target.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError(name)
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        link = target / source.name
        if not link.exists():
            link.symlink_to(source, target_is_directory=source.is_dir())
    return target


#: Prepended to the code :func:`command` runs: the Lambda-like ``sys.path``.
_PRELUDE = "import sys; sys.path[0:0] = [{package!r}, {runtime!r}]\n"


def command(package_dir: Path, runtime_dir: Path, code: str, *, importtime: bool = False) -> list[str]:
    """``python -I -S -B [-X importtime] -c CODE`` with the package and runtime on ``sys.path``."""
    flags = ["-I", "-S", "-B"] + (["-X", "importtime"] if importtime else [])
    prelude = _PRELUDE.format(package=str(package_dir), runtime=str(runtime_dir))
    return [sys.executable, *flags, "-c", prelude + code]
