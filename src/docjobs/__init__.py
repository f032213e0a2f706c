"""docjobs: Slack bot front end for background document jobs."""

__version__ = "0.1.0"
