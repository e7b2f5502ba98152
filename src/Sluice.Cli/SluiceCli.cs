using System.CommandLine;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Sluice.Client;
using Sluice.Server;

namespace Sluice.Cli;

/// <summary>
/// The <c>sluice</c> command: <c>serve</c> runs the server in this process; <c>keys</c>, <c>tail</c>, <c>generate</c>,
/// <c>bench</c> and <c>ops</c> talk to a running Sluice over its HTTP API, so they work the same against one node or a
/// cluster.
/// </summary>
public static partial class SluiceCli
{
    private static readonly JsonSerializerOptions Pretty = new() { WriteIndented = true };

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var url = new Option<string>("--url")
        {
            Description = "Base URL of a running Sluice (env SLUICE_URL).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("SLUICE_URL") ?? SluiceHost.DefaultUrl,
            Recursive = true,
        };
        var adminKey = new Option<string?>("--key")
        {
            Description = "API key (env SLUICE_KEY; else the bootstrap key in --data-dir/admin.key).",
            Recursive = true,
        };
        var dataDir = new Option<string>("--data-dir")
        {
            Description = "Where to find admin.key when no key is given.",
            DefaultValueFactory = _ => "./data",
            Recursive = true,
        };

        var root = new RootCommand("Sluice: a resumable streaming gateway for LLM generation.") { url, adminKey, dataDir };
        var connection = new CliConnection(url, adminKey, dataDir);

        var serve = new Command("serve", "Run Sluice in this process (same as dotnet run --project src/Sluice.Server). Other arguments go to the server, e.g. --urls or --Sluice:Store=memory.")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        serve.SetAction(async (result, ct) =>
        {
            try
            {
                await using var app = SluiceHost.Build([.. result.UnmatchedTokens]);
                await SluiceHost.CheckStoreAsync(app, ct);
                await app.StartAsync(ct);
                await app.WaitForShutdownAsync(ct);
                return 0;
            }
            catch (Sluice.Configuration.StoreStartupException ex)
            {
                await stderr.WriteLineAsync("sluice: " + ex.Message);
                return 1;
            }
        });
        root.Subcommands.Add(serve);

        var keys = new Command("keys", "Manage API keys (role admin).");
        var tenant = new Option<string>("--tenant") { Description = "The key's tenant.", Required = true };
        var roles = new Option<string>("--roles") { Description = "Comma-separated: subscribe, publish, generate, admin.", Required = true };
        var name = new Option<string?>("--name") { Description = "A label for people." };
        var expires = new Option<DateTimeOffset?>("--expires-at") { Description = "ISO 8601 expiry." };
        var create = new Command("create", "Create a key; its secret is printed once.") { tenant, roles, name, expires };
        create.SetAction((result, ct) => CallAsync(result, stdout, stderr, ct, (client, token) =>
            client.PostAsJsonAsync("/v1/admin/keys", new
            {
                tenant = result.GetValue(tenant),
                roles = result.GetValue(roles)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                name = result.GetValue(name),
                expires_at = result.GetValue(expires),
            }, token)));
        var listTenant = new Option<string?>("--tenant") { Description = "Only this tenant's keys." };
        var list = new Command("list", "List keys (never their secrets).") { listTenant };
        list.SetAction((result, ct) => CallAsync(result, stdout, stderr, ct, (client, token) =>
            client.GetAsync(result.GetValue(listTenant) is { } t ? $"/v1/admin/keys?tenant={Uri.EscapeDataString(t)}" : "/v1/admin/keys", token)));
        var id = new Argument<string>("id") { Description = "The key id (key_...)." };
        var revoke = new Command("revoke", "Revoke a key; it stops working at once.") { id };
        revoke.SetAction((result, ct) => CallAsync(result, stdout, stderr, ct, (client, token) =>
            client.DeleteAsync($"/v1/admin/keys/{Uri.EscapeDataString(result.GetValue(id)!)}", token)));
        keys.Subcommands.Add(create);
        keys.Subcommands.Add(list);
        keys.Subcommands.Add(revoke);
        root.Subcommands.Add(keys);

        root.Subcommands.Add(TailCommand(connection, stdout, stderr));
        root.Subcommands.Add(GenerateCommand(connection, stdout, stderr));
        root.Subcommands.Add(BenchCommand(connection, stdout, stderr));
        root.Subcommands.Add(OpsCommand((result, ct, request) => CallAsync(result, stdout, stderr, ct, request)));

        var parsed = root.Parse(args);
        return await parsed.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr });

        async Task<int> CallAsync(ParseResult result, TextWriter o, TextWriter e, CancellationToken ct, Func<HttpClient, CancellationToken, Task<HttpResponseMessage>> call)
        {
            using var client = connection.CreateHttpClient(result);
            if (client is null)
            {
                await e.WriteLineAsync(CliConnection.NoKey);
                return 2;
            }

            try
            {
                using var response = await call(client, ct);
                return await ReportAsync(response, o, e, ct);
            }
            catch (HttpRequestException ex)
            {
                await e.WriteLineAsync(CliConnection.Unreachable(client.BaseAddress, ex));
                return 3;
            }
        }
    }

    /// <summary>Prints a JSON answer indented (stdout), or the problem as one line (stderr); 0 on success, 1 on an error status.</summary>
    private static async Task<int> ReportAsync(HttpResponseMessage response, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        if (!response.IsSuccessStatusCode)
        {
            await stderr.WriteLineAsync(CliConnection.OneLine(await SluiceApiException.FromResponseAsync(response, ct)));
            return 1;
        }

        var text = await response.Content.ReadAsStringAsync(ct);
        if (text.Length > 0)
        {
            try
            {
                using var document = JsonDocument.Parse(text);
                text = JsonSerializer.Serialize(document.RootElement, Pretty);
            }
            catch (JsonException)
            {
            }

            await stdout.WriteLineAsync(text);
        }
        else
        {
            await stdout.WriteLineAsync($"{(int)response.StatusCode} {response.ReasonPhrase}");
        }

        return 0;
    }
}
