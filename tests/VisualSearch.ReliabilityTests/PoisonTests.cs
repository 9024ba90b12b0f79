using System.Text.Json;

namespace VisualSearch.ReliabilityTests;

/// <summary>
/// The blob trigger's contract with the Functions runtime (host.json: retries, then the poison queue): a permanently
/// bad image is not an error of the function, only a transient failure is. Both are tested on the real worker process
/// through the host protocol (VisualSearch.Functions.HostTests: IngestTests and StorageDownTests); the retry count and
/// timeout that the host applies are configuration, checked here.
/// </summary>
public sealed class PoisonTests
{
    [Fact]
    public void Host_json_configures_the_retry_count_before_the_poison_queue()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repo.Root, "functions", "VisualSearch.Functions", "host.json")));
        var blobs = json.RootElement.GetProperty("extensions").GetProperty("blobs");
        Assert.InRange(blobs.GetProperty("poisonBlobThreshold").GetInt32(), 1, 10);
        Assert.InRange(blobs.GetProperty("maxDegreeOfParallelism").GetInt32(), 1, 16);
        Assert.True(TimeSpan.TryParse(json.RootElement.GetProperty("functionTimeout").GetString(), System.Globalization.CultureInfo.InvariantCulture, out var timeout));
        Assert.InRange(timeout, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(10));

        var docs = File.ReadAllText(Path.Combine(Repo.Root, "docs", "reliability.md"));
        Assert.Contains("poisonBlobThreshold", docs, StringComparison.Ordinal);
        Assert.Contains("webjobs-blobtrigger-poison", docs, StringComparison.Ordinal);
    }
}
