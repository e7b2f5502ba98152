using Sluice.Configuration;
using Sluice.Server;

try
{
    await using var app = SluiceHost.Build(args);
    await SluiceHost.CheckStoreAsync(app);
    await app.RunAsync();
    return 0;
}
catch (StoreStartupException ex)
{
    // A store that cannot be used as configured is the operator's to fix: one line that says how, no stack trace.
    await Console.Error.WriteLineAsync("sluice: " + ex.Message);
    return 1;
}
