"""bikecast training: learn from past days, evaluate, and publish one model artifact to S3."""
