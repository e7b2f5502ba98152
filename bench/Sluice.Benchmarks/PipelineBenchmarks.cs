using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Sluice.Configuration;
using Sluice.Fanout;
using Sluice.Generations;
using Sluice.Providers;
using Sluice.Streams;

namespace Sluice.Benchmarks;

/// <summary>
/// Allocations per publish and per generation through the services as the server wires them (memory store,
/// simulated provider with no delays, no subscriber): the figures the provider-pipeline refactor must not worsen.
/// </summary>
[MemoryDiagnoser]
public class PipelineBenchmarks
{
    private static readonly StreamKey Key = new("bench", "publish");
    private static readonly NewEvent[] OneToken = [new(EventTypes.Token, "{\"text\":\"hello world, this is a token\"}")];
    private ServiceProvider _services = null!;
    private StreamHub _hub = null!;
    private GenerationExecutor _executor = null!;
    private ModelRoute _route = null!;
    private GenerationRequest _request = null!;
    private long _next;

    [GlobalSetup]
    public void Setup()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Sluice:Store"] = "memory" }).Build();
        var services = new ServiceCollection().AddLogging().AddMetrics();
        services.AddSluiceCore(configuration);
        services.AddSluiceProviders();
        services.AddMemoryEventLog();
        _services = services.BuildServiceProvider();
        _hub = _services.GetRequiredService<StreamHub>();
        _executor = _services.GetRequiredService<GenerationExecutor>();
        _services.GetRequiredService<IModelCatalog>().TryResolve("simulated/default", out _route);
        _request = new GenerationRequest
        {
            Model = "simulated/default",
            Messages = [new ChatMessage(ChatRole.User, "bench")],
            Simulate = new SimulateOptions { OutputTokens = 16, TtftMs = 0, TokensPerSecond = 0 },
        };
    }

    [GlobalCleanup]
    public void Cleanup() => _services.Dispose();

    [Benchmark]
    // object, not the internal result types: BenchmarkDotNet needs public signatures; both are references, so nothing boxes.
    public async Task<object> PublishOneEvent() => (await _hub.PublishAsync(Key, OneToken, CancellationToken.None)).Events;

    [Benchmark]
    public async Task<object> Generation16Tokens()
    {
        var id = "gen_bench" + Interlocked.Increment(ref _next);
        var record = new GenerationRecord { Id = id, Tenant = "bench", Model = "simulated/default", Status = GenerationStatus.Queued, CreatedAt = DateTimeOffset.UnixEpoch };
        return await _executor.RunAsync(new GenerationJob(record, _request, _route, TimeProvider.System.GetTimestamp()));
    }
}
