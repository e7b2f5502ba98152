using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Sluice.Testing;

/// <summary>
/// A real redis-server on 127.0.0.1 and a free port, with append-only persistence on (as Sluice is meant to
/// run) in its own directory; stopped by the PID this started. <see cref="KillAsync"/> and <see cref="StartAgainAsync"/>
/// are the crash and the restart of the durability tests.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly string[] _extraArgs;
    private Process? _process;

    private RedisServer(int port, string directory, string[] extraArgs)
    {
        Port = port;
        Directory = directory;
        _extraArgs = extraArgs;
    }

    public int Port { get; }

    public string Directory { get; }

    public int Pid => _process?.Id ?? 0;

    /// <summary>A StackExchange.Redis connection string for this server.</summary>
    public string ConnectionString => $"127.0.0.1:{Port},abortConnect=false,connectTimeout=2000,syncTimeout=5000";

    public static string Executable { get; } =
        File.Exists("/usr/bin/redis-server") ? "/usr/bin/redis-server" : "redis-server";

    /// <summary>Starts one; <paramref name="args"/> are extra redis-server options (<c>--appendfsync always</c>).</summary>
    public static async Task<RedisServer> StartAsync(params string[] args)
    {
        var server = new RedisServer(FreePort(), System.IO.Directory.CreateTempSubdirectory("sluice-redis-").FullName, args);
        await server.StartAgainAsync();
        return server;
    }

    /// <summary>Starts the server (again) on the same port and directory, and waits until it answers PING.</summary>
    public async Task StartAgainAsync()
    {
        var info = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", Directory,
            "--appendonly", "yes", "--save", "", "--daemonize", "no", "--protected-mode", "yes", "--maxmemory-policy", "noeviction",
        }.Concat(_extraArgs))
        {
            info.ArgumentList.Add(arg);
        }

        // redis-server logs this line once it accepts connections (with AOF on: after loading the AOF).
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("Ready to accept connections", StringComparison.Ordinal) == true)
            {
                ready.TrySetResult();
            }
        };
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException("redis-server exited before it was ready"));
        process.Start();
        _process = process;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await ready.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>kill -9: no shutdown save, no fsync beyond what appendfsync already did.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
    }

    /// <summary>Synchronous kill, for a process-exit handler (which cannot await).</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
        }
    }

    /// <summary>Sends one inline command and returns the first line of the reply.</summary>
    public async Task<string> CommandAsync(string command, CancellationToken cancellationToken = default)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, Port, cancellationToken);
        var stream = client.GetStream();
        await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(command + "\r\n"), cancellationToken);
        using var reader = new StreamReader(stream);
        return await reader.ReadLineAsync(cancellationToken) ?? "";
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
