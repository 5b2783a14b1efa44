"""AWS access sits behind two adapters: the secret store and the notifier."""
