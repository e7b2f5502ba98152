using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Sluice.Client.Tests;

/// <summary>
/// A TCP proxy on 127.0.0.1 in front of a live Sluice that breaks event streams: once a connection has carried a
/// <c>GET .../events</c>, the server's bytes are cut after a random number (a FIN, a RST, or a stall that forwards
/// nothing more and leaves the socket open). Other requests pass untouched. Seeded, so a failure can be replayed.
/// </summary>
internal sealed class FaultyProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _upstream;
    private readonly Random _random;
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _sockets = [];
    private readonly Task _accepting;
    private int _cuts;
    private int _resets;
    private int _stalls;

    public FaultyProxy(Uri upstream, int seed, int minBytes = 300, int maxBytes = 6000)
    {
        _upstream = new IPEndPoint(IPAddress.Parse(upstream.Host), upstream.Port);
        _random = new Random(seed);
        MinBytes = minBytes;
        MaxBytes = maxBytes;
        _listener.Start();
        BaseAddress = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");
        _accepting = AcceptAsync();
    }

    public Uri BaseAddress { get; }

    public int MinBytes { get; }

    public int MaxBytes { get; }

    public (int Cuts, int Resets, int Stalls) Faults => (Volatile.Read(ref _cuts), Volatile.Read(ref _resets), Volatile.Read(ref _stalls));

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        lock (_lock)
        {
            foreach (var socket in _sockets)
            {
                socket.Dispose();
            }
        }

        await _accepting;
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(Socket client)
    {
        var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        lock (_lock)
        {
            _sockets.Add(client);
            _sockets.Add(server);
        }

        var connection = new Connection();
        try
        {
            await server.ConnectAsync(_upstream, _stop.Token);
            var up = PumpUpAsync(client, server, connection);
            var down = PumpDownAsync(server, client, connection);
            await Task.WhenAny(up, down);
            if (connection.Stalled)
            {
                await up; // a stall holds the connection until the client gives up on it
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            if (connection.Reset)
            {
                client.LingerState = new LingerOption(true, 0); // close sends RST, not FIN
            }

            client.Dispose();
            server.Dispose();
        }
    }

    private async Task PumpUpAsync(Socket from, Socket to, Connection connection)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer, _stop.Token);
                if (n == 0)
                {
                    return;
                }

                var text = Encoding.ASCII.GetString(buffer, 0, n);
                var events = text.StartsWith("GET ", StringComparison.Ordinal) && text.Contains("/events", StringComparison.Ordinal);
                if (!events && IsRequestLine(text))
                {
                    connection.Budget = null; // a pooled connection reused for a create or a read: only streams are broken
                }

                if (connection.Budget is null && events)
                {
                    lock (_lock)
                    {
                        connection.Budget = connection.Forwarded + _random.Next(MinBytes, MaxBytes);
                        connection.Mode = _random.Next(100) switch { < 45 => Fault.Cut, < 85 => Fault.Reset, _ => Fault.Stall };
                    }
                }

                await to.SendAsync(buffer.AsMemory(0, n), _stop.Token);
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private async Task PumpDownAsync(Socket from, Socket to, Connection connection)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer, _stop.Token);
                if (n == 0)
                {
                    return;
                }

                var send = n;
                if (connection.Budget is { } budget && connection.Forwarded + n >= budget)
                {
                    send = (int)(budget - connection.Forwarded);
                }

                await to.SendAsync(buffer.AsMemory(0, send), _stop.Token);
                connection.Forwarded += send;
                if (send < n || connection.Forwarded == connection.Budget)
                {
                    switch (connection.Mode)
                    {
                        case Fault.Cut:
                            Interlocked.Increment(ref _cuts);
                            break;
                        case Fault.Reset:
                            Interlocked.Increment(ref _resets);
                            connection.Reset = true;
                            break;
                        default:
                            Interlocked.Increment(ref _stalls);
                            connection.Stalled = true;
                            break;
                    }

                    return;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private static bool IsRequestLine(string text) =>
        text.StartsWith("GET ", StringComparison.Ordinal) || text.StartsWith("POST ", StringComparison.Ordinal) || text.StartsWith("DELETE ", StringComparison.Ordinal);

    private enum Fault
    {
        Cut,
        Reset,
        Stall,
    }

    private sealed class Connection
    {
        public long Forwarded { get; set; }

        public long? Budget { get; set; }

        public Fault Mode { get; set; }

        public bool Reset { get; set; }

        public bool Stalled { get; set; }
    }
}
