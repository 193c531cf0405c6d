"""The coach's side: the narrative coding scheme, coding agreement, profile and score charts."""
