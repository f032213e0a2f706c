"""Tests of the pipeline steps (src/docjobs/tasks)."""
