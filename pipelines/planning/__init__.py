"""Planning tools: boundary schemes compared, resources shared by need, displacement, backtests."""
