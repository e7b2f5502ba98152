using Sluice.Server;

await using var app = SluiceHost.Build(args);
await app.RunAsync();
