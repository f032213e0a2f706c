"""The Celery app and the document pipeline: download, extract, chunk, embed, store."""
