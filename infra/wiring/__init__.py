"""Putting the parts together and running them: the composition root, the one
process and thread model of long-running parts, and the metrics they share."""
