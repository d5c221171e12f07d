"""Pure rules of intake: validation outcomes, Segment mapping, rate limits. No I/O."""
