"""The HTTP edge: result intake, job status, health, metrics, and Slack's HTTP endpoint."""
