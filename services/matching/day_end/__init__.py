"""The end of an insight day: matching's beat announces `EventEnded` once per day when its end time has passed."""
