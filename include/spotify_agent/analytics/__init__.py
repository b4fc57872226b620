"""Analytics: the listening aggregation, trend detection and the reports drawn from them."""
