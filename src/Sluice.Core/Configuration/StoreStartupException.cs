namespace Sluice.Configuration;

/// <summary>The configured store cannot be used as it is (a Redis that may evict keys); the host prints the message as one line and exits.</summary>
public sealed class StoreStartupException(string message) : Exception(message);
