"""A local stand-in for Slack: the Web API subset the bot uses, file hosting, signed delivery
of events, commands and actions with Slack's retry behaviour, Slack's rate limits, faults on
demand, and a control API for tests and the zero-config run. Imports nothing of docjobs."""
