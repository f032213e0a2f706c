"""The Slack edge: the Bolt app, its listeners, the Block Kit views and the reporter."""
