"""Put on a function process's PYTHONPATH by the LocalStack executor (TR_LAMBDA_SITE_DIR, set by
tools/localstack.sh), and on a CLI process's by the tests that start one
(tests/support/authz.py ``subprocess_env``): records its AWS calls into $TR_AWS_CALL_LOG
(tests/support/aws_calls.py). Never part of a deployed function or of the wheel."""

import importlib.util
import os
from pathlib import Path

if os.environ.get("TR_AWS_CALL_LOG"):
    _path = Path(__file__).resolve().parent.parent / "aws_calls.py"
    _spec = importlib.util.spec_from_file_location("tr_aws_calls", _path)
    if _spec is not None and _spec.loader is not None:
        _module = importlib.util.module_from_spec(_spec)
        _spec.loader.exec_module(_module)
        _module.install_from_environment()
