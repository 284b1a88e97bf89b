"""What stale stock costs: an estimate from a few figures, and a simulation on real sales."""
