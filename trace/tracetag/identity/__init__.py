"""People who sign in: users and their roles, sessions, passwords and password resets."""
