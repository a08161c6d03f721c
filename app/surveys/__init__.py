"""SMS surveys: the question bank and the parser of young people's answers."""
