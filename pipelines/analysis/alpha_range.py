"""The significance levels a study accepts: one range for the CLI and the API. Above 0.5 a "hot
spot" would be likelier chance than not; below one in a million no permutation test can reach."""

ALPHA_MIN = 1e-6
ALPHA_MAX = 0.5
