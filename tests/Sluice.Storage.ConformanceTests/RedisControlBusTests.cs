using Sluice.Cluster;
using Sluice.Storage.Redis;

namespace Sluice.Storage.ConformanceTests;

/// <summary>The cluster's change log on a real Redis: two buses over the same keys are two nodes.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisControlBusTests(RedisFixture redis) : IAsyncLifetime
{
    private readonly RedisTestConnections _connections = new(redis);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _connections.DisposeAsync();

    [Fact]
    public async Task ChangesAreReadInOrderAfterAVersion_WithTheirOrigin_AndAnnounced()
    {
        var a = new RedisControlBus(_connections.Open());
        var b = new RedisControlBus(_connections.Open());
        var announced = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await b.SubscribeAsync(() => announced.TrySetResult(), default);

        var first = await a.PublishAsync(ControlKinds.Revoke, "key_1", default);
        var second = await a.PublishAsync(ControlKinds.Broadcast, "1000", default);
        await announced.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var (version, changes, complete) = await b.ReadAfterAsync(first - 1, 100, default);
        var (_, after, _) = await b.ReadAfterAsync(second, 100, default);

        Assert.Equal(first + 1, second);
        Assert.Equal(second, version);
        Assert.True(complete);
        Assert.Equal([(first, "revoke", "key_1"), (second, "broadcast", "1000")], changes.Select(c => (c.Version, c.Kind, c.Data)));
        Assert.All(changes, c => Assert.Equal(a.Origin, c.Origin));
        Assert.NotEqual(a.Origin, b.Origin);
        Assert.Empty(after);
    }

    [Fact]
    public async Task TheLeversLatestStateIsKept_ForNodesThatStartLater()
    {
        var a = new RedisControlBus(_connections.Open());
        await a.PublishAsync(ControlKinds.Shed, """["/v1/a"]""", default);
        await a.PublishAsync(ControlKinds.Shed, """["/v1/a","/v1/b"]""", default);
        var last = await a.PublishAsync(ControlKinds.Revoke, "key_1", default);

        var (version, state) = await new RedisControlBus(_connections.Open()).StateAsync(default);

        Assert.Equal(last, version);
        Assert.Equal(new Dictionary<string, string> { ["shed"] = """["/v1/a","/v1/b"]""" }, state);
    }

    [Fact]
    public async Task ANodeThatMissedMoreThanTheLogKeeps_IsToldItsReadIsIncomplete()
    {
        var a = new RedisControlBus(_connections.Open());
        for (var i = 0; i < RedisControlBus.Kept + 200; i++)
        {
            await a.PublishAsync(ControlKinds.Revoke, "key_" + i, default);
        }

        var (version, _, complete) = await a.ReadAfterAsync(0, 100, default);
        var (_, recent, recentComplete) = await a.ReadAfterAsync(version - 5, 100, default);

        Assert.False(complete);
        Assert.True(recentComplete);
        Assert.Equal(5, recent.Count);
    }
}
