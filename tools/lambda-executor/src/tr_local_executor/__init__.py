"""Run LocalStack Lambda functions (Python) in local processes instead of Docker containers."""
