using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Sluice.Http.Logs;

/// <summary>
/// The server's own log, offered to <c>GET /v1/logs/stream</c> subscribers (API.md section 8). A logger
/// provider like any other: it sees what the logging filters let through, after the redaction filters, so
/// no key or token reaches it. Each subscriber has a small bounded queue that drops its oldest entries
/// when the subscriber lags: logging never waits for a reader.
/// </summary>
internal sealed class LogStream(TimeProvider time) : ILoggerProvider
{
    private const int QueuePerSubscriber = 1024;
    private volatile Subscription[] _subscriptions = [];

    // The lowest level any subscriber asked for: below it nothing is formatted (None while nobody listens).
    private volatile int _minimum = (int)LogLevel.None;
    private readonly object _lock = new();
    private readonly TimeProvider _time = time;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public Subscription Subscribe(LogLevel minimum)
    {
        var channel = Channel.CreateBounded<LogEntry>(new BoundedChannelOptions(QueuePerSubscriber)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        var subscription = new Subscription(this, channel, minimum);
        lock (_lock)
        {
            _subscriptions = [.. _subscriptions, subscription];
            _minimum = _subscriptions.Min(s => (int)s.Minimum);
        }

        return subscription;
    }

    private void Unsubscribe(Subscription subscription)
    {
        lock (_lock)
        {
            _subscriptions = [.. _subscriptions.Where(s => s != subscription)];
            _minimum = _subscriptions.Length == 0 ? (int)LogLevel.None : _subscriptions.Min(s => (int)s.Minimum);
        }
    }

    private void Publish(LogEntry entry)
    {
        foreach (var subscription in _subscriptions)
        {
            if (entry.Level >= subscription.Minimum)
            {
                subscription.Channel.Writer.TryWrite(entry);
            }
        }
    }

    public void Dispose()
    {
        foreach (var subscription in _subscriptions)
        {
            subscription.Channel.Writer.TryComplete();
        }
    }

    internal sealed class Subscription(LogStream owner, Channel<LogEntry> channel, LogLevel minimum) : IDisposable
    {
        public LogLevel Minimum => minimum;

        public ChannelReader<LogEntry> Entries => channel.Reader;

        internal Channel<LogEntry> Channel => channel;

        public void Dispose() => owner.Unsubscribe(this);
    }

    private sealed class Logger(LogStream owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && (int)logLevel >= owner._minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            owner.Publish(new LogEntry(owner._time.GetUtcNow(), logLevel, category, eventId.Id, formatter(state, exception), exception?.GetType().FullName));
        }
    }
}

internal sealed record LogEntry(DateTimeOffset Time, LogLevel Level, string Category, int EventId, string Message, string? Exception)
{
    public string ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("time", Time);
            w.WriteString("level", LogLevels.Name(Level));
            w.WriteString("category", Category);
            w.WriteNumber("event_id", EventId);
            w.WriteString("message", Message);
            if (Exception is not null)
            {
                w.WriteString("exception", Exception);
            }

            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}

internal static class LogLevels
{
    public static string Name(LogLevel level) => level switch
    {
        LogLevel.Trace => "trace",
        LogLevel.Debug => "debug",
        LogLevel.Information => "information",
        LogLevel.Warning => "warning",
        LogLevel.Error => "error",
        _ => "critical",
    };

    public static bool TryParse(string? name, out LogLevel level)
    {
        level = name?.ToLowerInvariant() switch
        {
            null or "" or "information" or "info" => LogLevel.Information,
            "trace" => LogLevel.Trace,
            "debug" => LogLevel.Debug,
            "warning" or "warn" => LogLevel.Warning,
            "error" => LogLevel.Error,
            "critical" => LogLevel.Critical,
            _ => LogLevel.None,
        };
        return level != LogLevel.None;
    }
}
