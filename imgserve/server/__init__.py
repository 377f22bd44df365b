"""Running the app in production: waitress with its threads sized by admission, a graceful drain on
SIGTERM, glibc's malloc tuned for renders, and C libraries' stderr captured into the log."""
