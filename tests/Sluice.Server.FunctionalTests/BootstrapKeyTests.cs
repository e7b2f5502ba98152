using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>The configured <c>Sluice:AdminKey</c> across restarts of one data directory.</summary>
public sealed class BootstrapKeyTests
{
    [Fact]
    public async Task RevokedConfiguredKey_StaysRevokedAcrossARestart_AndTheStartSaysSo()
    {
        var dataDir = Directory.CreateTempSubdirectory("sluice-test-").FullName;
        string other;
        await using (var first = await SluiceTestServer.StartAsync(dataDir: dataDir))
        {
            using var admin = first.CreateClient();
            (other, _) = await admin.CreateKeyAsync("default", "admin");
            var bootstrapId = (await admin.GetJsonAsync("/v1/admin/keys")).GetProperty("keys").EnumerateArray()
                .Single(k => k.GetProperty("name").GetString() == "bootstrap (Sluice:AdminKey)").GetProperty("id").GetString();
            using var revoke = await admin.DeleteAsync($"/v1/admin/keys/{bootstrapId}");
            Assert.True(revoke.IsSuccessStatusCode, revoke.StatusCode.ToString());
        }

        await using var second = await SluiceTestServer.StartAsync(dataDir: dataDir);

        using var revoked = second.CreateClient();
        using var refused = await revoked.GetAsync("/v1/admin/keys");
        Assert.Equal(401, (int)refused.StatusCode);
        using var stillIn = second.CreateClient(other);
        Assert.True((await stillIn.GetJsonAsync("/v1/admin/keys")).GetProperty("keys").GetArrayLength() >= 2);
        Assert.Single(second.Logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("Sluice:AdminKey", StringComparison.Ordinal) && l.Contains("revoked", StringComparison.Ordinal));
    }
}
