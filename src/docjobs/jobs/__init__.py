"""The job domain: records, states, store, events. No Slack, no Celery, no HTTP."""
