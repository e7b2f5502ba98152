using System.CommandLine;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Sluice.Server;

namespace Sluice.Cli;

/// <summary>
/// The <c>sluice</c> command: <c>serve</c> runs the server in this process; <c>keys</c>, <c>tail</c> and <c>ops</c>
/// talk to a running Sluice over its HTTP API, so they work the same against one node or a cluster.
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

        var stream = new Argument<string>("stream") { Description = "The stream id." };
        var lastEventId = new Option<string?>("--last-event-id") { Description = "Resume after this id." };
        var tail = new Command("tail", "Print a stream's events as they arrive (replay, then live) until it closes.") { stream, lastEventId };
        tail.SetAction(async (result, ct) =>
        {
            using var client = CreateClient(result);
            if (client is null)
            {
                await stderr.WriteLineAsync("No key: pass --key, set SLUICE_KEY, or run where --data-dir/admin.key exists.");
                return 2;
            }

            using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/streams/{Uri.EscapeDataString(result.GetValue(stream)!)}/events");
            if (result.GetValue(lastEventId) is { } last)
            {
                request.Headers.TryAddWithoutValidation("Last-Event-ID", last);
            }

            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            if (!response.IsSuccessStatusCode || response.StatusCode == System.Net.HttpStatusCode.NoContent)
            {
                return await ReportAsync(response, stdout, stderr, ct);
            }

            await using var body = await response.Content.ReadAsStreamAsync(ct);
            await foreach (var item in SseParser.Create(body).EnumerateAsync(ct))
            {
                await stdout.WriteLineAsync($"{item.EventId ?? "-"}\t{item.EventType}\t{item.Data}");
                await stdout.FlushAsync(ct);
            }

            return 0;
        });
        root.Subcommands.Add(tail);
        root.Subcommands.Add(OpsCommand((result, ct, request) => CallAsync(result, stdout, stderr, ct, request)));

        var parsed = root.Parse(args);
        return await parsed.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr });

        HttpClient? CreateClient(ParseResult result)
        {
            var key = result.GetValue(adminKey) ?? Environment.GetEnvironmentVariable("SLUICE_KEY");
            var keyFile = Path.Combine(result.GetValue(dataDir)!, "admin.key");
            if (key is null && File.Exists(keyFile))
            {
                key = File.ReadAllText(keyFile).Trim();
            }

            if (key is null)
            {
                return null;
            }

            var client = new HttpClient { BaseAddress = new Uri(result.GetValue(url)!), Timeout = Timeout.InfiniteTimeSpan };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            return client;
        }

        async Task<int> CallAsync(ParseResult result, TextWriter o, TextWriter e, CancellationToken ct, Func<HttpClient, CancellationToken, Task<HttpResponseMessage>> call)
        {
            using var client = CreateClient(result);
            if (client is null)
            {
                await e.WriteLineAsync("No key: pass --key, set SLUICE_KEY, or run where --data-dir/admin.key exists.");
                return 2;
            }

            try
            {
                using var response = await call(client, ct);
                return await ReportAsync(response, o, e, ct);
            }
            catch (HttpRequestException ex)
            {
                await e.WriteLineAsync($"Cannot reach Sluice at {client.BaseAddress}: {ex.Message}");
                return 3;
            }
        }
    }

    /// <summary>Prints a JSON answer indented (stdout) or the problem (stderr); 0 on success, 1 on an error status.</summary>
    private static async Task<int> ReportAsync(HttpResponseMessage response, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        var output = response.IsSuccessStatusCode ? stdout : stderr;
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

            await output.WriteLineAsync(text);
        }
        else
        {
            await output.WriteLineAsync($"{(int)response.StatusCode} {response.ReasonPhrase}");
        }

        return response.IsSuccessStatusCode ? 0 : 1;
    }
}
