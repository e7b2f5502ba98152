using System.Text.Json;
using Microsoft.Data.Sqlite;
using Sluice.Storage.Sqlite;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>The data directory across builds and users: its schema version, and who may read it.</summary>
public sealed class DataDirectoryTests
{
    private const UnixFileMode GroupOrOther = (UnixFileMode)0b000_111_111;

    [Fact]
    public async Task ADatabaseWrittenByTheLastUnversionedBuild_OpensWithItsKeysStreamsAndGenerations()
    {
        // Written by 55b0c8c: tenant acme's key, a closed stream of three events, a finished generation.
        const string AcmeKey = "sk_OkiH15XBEa5Mrj5gG1V_byow5mgb_-ExQ42ZwAbQzhA";
        const string GenerationId = "gen_yo27vqcqgoqqa4dlah5d4h5n";
        var dataDir = Directory.CreateTempSubdirectory("sluice-test-").FullName;
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Fixtures", "sluice-55b0c8c.db"), Path.Combine(dataDir, "sluice.db"));

        await using (var server = await SluiceTestServer.StartAsync(dataDir: dataDir))
        {
            using var admin = server.CreateClient();
            Assert.Contains((await admin.GetJsonAsync("/v1/admin/keys?tenant=acme")).GetProperty("keys").EnumerateArray(), k => k.GetProperty("name").GetString() == "fixture");
            using var acme = server.CreateClient(AcmeKey);
            var stream = await acme.GetJsonAsync("/v1/streams/fixture-stream");
            Assert.Equal("closed", stream.GetProperty("status").GetString());
            Assert.Equal(3, stream.GetProperty("last_id").GetInt64());
            var generation = await acme.GetJsonAsync($"/v1/generations/{GenerationId}");
            Assert.Equal("succeeded", generation.GetProperty("status").GetString());
            var events = await acme.ReadEventsAsync(GenerationId);
            Assert.Equal(generation.GetProperty("usage").GetProperty("output_tokens").GetInt32(), events.Count(e => e.EventType == "token"));
            Assert.Equal("done", events[^1].EventType);

            // New writes land beside the old ones.
            var ids = await AppendAfterCloseIsRefusedThenNewStreamAsync(acme);
            Assert.Equal(4L, Assert.Single(ids));
        }

        Assert.Equal(SqliteDatabase.SchemaVersion, UserVersion(dataDir));
    }

    [Fact]
    public async Task ADatabaseFromANewerBuild_IsRefusedWithBothVersionsNamed()
    {
        var dataDir = Directory.CreateTempSubdirectory("sluice-test-").FullName;
        await using (var first = await SluiceTestServer.StartAsync(dataDir: dataDir))
        {
            using var client = first.CreateClient();
            await client.PublishAsync("kept", "token", new { text = "x" });
        }

        SetUserVersion(dataDir, SqliteDatabase.SchemaVersion + 1);

        var refused = await Assert.ThrowsAnyAsync<Exception>(() => SluiceTestServer.StartAsync(dataDir: dataDir));
        var message = (refused.InnerException ?? refused).Message;
        Assert.Contains($"schema version {SqliteDatabase.SchemaVersion + 1}", message, StringComparison.Ordinal);
        Assert.Contains($"this build's {SqliteDatabase.SchemaVersion}", message, StringComparison.Ordinal);
        // Refusing changed nothing.
        Assert.Equal(SqliteDatabase.SchemaVersion + 1, UserVersion(dataDir));
    }

    [Fact]
    public async Task AFreshDataDirectory_IsOwnerOnly_AndSoIsEveryFileInIt()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var dataDir = Path.Combine(Directory.CreateTempSubdirectory("sluice-test-").FullName, "data");
        await using var server = await SluiceTestServer.StartAsync(dataDir: dataDir, adminKey: null);
        using var client = server.CreateClient((await File.ReadAllTextAsync(Path.Combine(dataDir, "admin.key"))).Trim());
        await client.PublishAsync("s", "token", new { text = "x" });

        Assert.Equal((UnixFileMode)0b111_000_000, File.GetUnixFileMode(dataDir));
        foreach (var file in new[] { "sluice.db", "sluice.db-wal", "sluice.db-shm", "admin.key" })
        {
            Assert.Equal((file, (UnixFileMode)0b110_000_000), (file, File.GetUnixFileMode(Path.Combine(dataDir, file))));
        }
    }

    [Fact]
    public async Task AnExistingDirectoryOpenToOthers_IsNarrowedAtStart_AndTheStartSaysSo()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var dataDir = Directory.CreateTempSubdirectory("sluice-test-").FullName;
        await using (var first = await SluiceTestServer.StartAsync(dataDir: dataDir))
        {
        }

        File.SetUnixFileMode(dataDir, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(Path.Combine(dataDir, "sluice.db"), (UnixFileMode)0b110_100_100);
        var unrelated = Path.Combine(dataDir, "notes.txt");
        await File.WriteAllTextAsync(unrelated, "not Sluice's");
        File.SetUnixFileMode(unrelated, (UnixFileMode)0b110_100_100);

        await using var second = await SluiceTestServer.StartAsync(dataDir: dataDir);

        Assert.Equal((UnixFileMode)0, File.GetUnixFileMode(dataDir) & GroupOrOther);
        Assert.Equal((UnixFileMode)0, File.GetUnixFileMode(Path.Combine(dataDir, "sluice.db")) & GroupOrOther);
        Assert.Equal((UnixFileMode)0b110_100_100, File.GetUnixFileMode(unrelated));
        Assert.Equal(2, second.Logs.Lines.Count(l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("was open to other users", StringComparison.Ordinal)));
    }

    private static async Task<long[]> AppendAfterCloseIsRefusedThenNewStreamAsync(HttpClient acme)
    {
        using var refused = await acme.PostJsonAsync("/v1/streams/fixture-stream/events", """{"type":"token","data":{"text":"late"}}""");
        Assert.Equal(409, (int)refused.StatusCode);
        await acme.PublishAsync("fixture-next", "token", new { text = "a" });
        await acme.PublishAsync("fixture-next", "token", new { text = "b" });
        await acme.PublishAsync("fixture-next", "token", new { text = "c" });
        return await acme.PublishAsync("fixture-next", "token", new { text = "d" });
    }

    private static int UserVersion(string dataDir)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(dataDir, "sluice.db")};Pooling=false");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA user_version;";
        return Convert.ToInt32(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static void SetUserVersion(string dataDir, int version)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(dataDir, "sluice.db")};Pooling=false");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"PRAGMA user_version={version};";
        command.ExecuteNonQuery();
    }
}
