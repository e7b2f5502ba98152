using System.Diagnostics;
using System.Text.RegularExpressions;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>Every <c>sh</c> block of every runbook runs, in order, against a live Sluice and must succeed.</summary>
public sealed partial class RunbookTests
{
    public static TheoryData<string> Runbooks()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(Root(), "docs", "runbooks"), "*.md").Order())
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Runbooks))]
    public async Task Runbook_EveryShellBlock_RunsAgainstALiveSluice(string runbook)
    {
        var text = await File.ReadAllTextAsync(Path.Combine(Root(), "docs", "runbooks", runbook));
        var blocks = ShellBlock().Matches(text).Select(m => m.Groups["body"].Value).ToList();
        await using var server = await SluiceTestServer.StartAsync("sqlite");
        // A stream with events, so the metrics and the SSE checks have something to show.
        using var client = server.CreateClient();
        await client.PublishAsync("warm", "token", new { text = "x" });
        await using (var sse = await SseClient.ConnectAsync(client, "/v1/streams/warm/events"))
        {
            await sse.NextAsync();
        }

        // A prompt with a newer approved version, for the runbooks' rollback steps.
        using (var v1 = await client.PostJsonAsync("/v1/prompts/support-answer/versions", """{"template":"Answer {{q}}","model":"simulated/default"}"""))
        using (var v2 = await client.PostJsonAsync("/v1/prompts/support-answer/versions", """{"template":"Answer {{q}} at length","model":"simulated/default"}"""))
        using (var approve = await client.PostAsync("/v1/prompts/support-answer/versions/2/approve", null))
        {
            await Api.EnsureAsync(approve, 200);
        }

        Assert.NotEmpty(blocks);
        foreach (var block in blocks)
        {
            var (exitCode, output) = await RunAsync(block, server.BaseAddress.ToString().TrimEnd('/'));
            Assert.True(exitCode == 0, $"{runbook}: block failed with {exitCode}:\n{block}\n--- output ---\n{output}");
        }
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string script, string url)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        info.ArgumentList.Add("-eu");
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        info.Environment["SLUICE_URL"] = url;
        info.Environment["SLUICE_ADMIN_KEY"] = SluiceTestServer.AdminKey;
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    private static string Root()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Sluice.slnx")))
        {
            dir = dir.Parent;
        }

        return dir!.FullName;
    }

    [GeneratedRegex(@"```sh\n(?<body>.*?)```", RegexOptions.Singleline)]
    private static partial Regex ShellBlock();
}
