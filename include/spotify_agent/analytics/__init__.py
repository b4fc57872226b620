"""Analytics: the daily listening aggregation and its inputs."""
