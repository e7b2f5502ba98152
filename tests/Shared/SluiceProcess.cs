using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Sluice.Testing;

/// <summary>Starts <c>Sluice.Server.dll</c> with <c>dotnet</c>, reads its port from the startup log, stops it by PID.</summary>
public sealed partial class SluiceProcess : IDisposable
{
    private readonly Process _process;
    private readonly System.Text.StringBuilder _output = new();
    private readonly System.Text.StringBuilder _stdout = new();

    private SluiceProcess(Process process) => _process = process;

    public Uri BaseAddress { get; private set; } = null!;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Standard output alone (<see cref="Output"/> has both streams).</summary>
    public string StandardOutput
    {
        get
        {
            lock (_output)
            {
                return _stdout.ToString();
            }
        }
    }

    public int ExitCode => _process.ExitCode;

    public static Task<SluiceProcess> StartAsync(string dataDir, string? adminKey = SluiceTestServer.AdminKey, params string[] extra) =>
        StartAsync(dataDir, new Dictionary<string, string>(), adminKey, extra);

    /// <summary>Started with <paramref name="environment"/> added to its environment (<c>OTEL_*</c>, say).</summary>
    public static async Task<SluiceProcess> StartAsync(string dataDir, IReadOnlyDictionary<string, string> environment, string? adminKey = SluiceTestServer.AdminKey, params string[] extra)
    {
        List<string> args = ["--urls", "http://127.0.0.1:0", "--Sluice:DataDir", dataDir, .. extra];
        if (adminKey is not null)
        {
            args.AddRange(["--Sluice:AdminKey", adminKey]);
        }

        var process = new SluiceProcess(Launch(args, environment));
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        process._process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (process._output)
            {
                process._output.AppendLine(e.Data);
                process._stdout.AppendLine(e.Data);
            }

            var match = Listening().Match(e.Data);
            if (match.Success)
            {
                listening.TrySetResult(new Uri(match.Groups[1].Value));
            }
        };
        process._process.ErrorDataReceived += (_, e) =>
        {
            lock (process._output)
            {
                process._output.AppendLine(e.Data);
            }
        };
        process._process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException("Sluice exited before listening:\n" + process.Output));
        process._process.EnableRaisingEvents = true;
        process._process.BeginOutputReadLine();
        process._process.BeginErrorReadLine();
        process.BaseAddress = await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
        return process;
    }

    public static async Task<(int ExitCode, string Output)> RunToExitAsync(string dataDir, params string[] extra)
    {
        using var process = Launch(["--urls", "http://127.0.0.1:0", "--Sluice:DataDir", dataDir, .. extra]);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    private static Process Launch(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var serverDll = Path.Combine(AppContext.BaseDirectory, "Sluice.Server.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        info.ArgumentList.Add(serverDll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        return Process.Start(info)!;
    }

    public HttpClient CreateClient(string? key = SluiceTestServer.AdminKey)
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new("Bearer", key);
        }

        return client;
    }

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>SIGTERM, as systemd or Kubernetes sends it.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public bool WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout);

    /// <summary>SIGSTOP: the process is frozen, as by a long GC pause or a stalled VM, until <see cref="Resume"/>.</summary>
    public void Pause() => Signal("-STOP");

    /// <summary>SIGCONT.</summary>
    public void Resume() => Signal("-CONT");

    private void Signal(string signal)
    {
        using var kill = Process.Start("kill", [signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
    }

    [GeneratedRegex(@"Now listening on: (http://127\.0\.0\.1:\d+)")]
    private static partial Regex Listening();
}
