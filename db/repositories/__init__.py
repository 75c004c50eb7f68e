"""All SQL of InsureFlow, one module per concept. Functions take an `AsyncSession` first and
keyword arguments after it; they never commit: the caller owns the transaction."""
