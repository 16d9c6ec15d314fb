"""Response plans (处置预案): what a guard does for an alarm of each kind, and whom to call."""
