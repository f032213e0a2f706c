"""Helpers shared by the tests: PDF generators, local servers."""
