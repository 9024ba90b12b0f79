namespace VisualSearch.Infra.Tests;

/// <summary>
/// Azure AI Search replicas and partitions are validated per tier by the type of main.bicep's searchSizing parameter
/// (issue 20: main.bicep took up to 12 of each for every tier; Basic allows 3). A parameters file with a value the
/// tier does not allow fails to compile, offline, before anything is deployed; ARM checks the same type at preflight.
/// </summary>
public sealed class SearchSizingTests
{
    [Theory]
    [InlineData("basic", 4, 1, "replicaCount")]
    [InlineData("basic", 1, 4, "partitionCount")]
    [InlineData("basic", 12, 3, "replicaCount")]
    [InlineData("standard", 13, 1, "replicaCount")]
    [InlineData("standard", 1, 5, "partitionCount")]
    [InlineData("storage_optimized_l1", 0, 1, "replicaCount")]
    [InlineData("free", 1, 1, "sku")]
    public async Task A_count_the_tier_does_not_allow_fails_to_compile(string sku, int replicas, int partitions, string property)
    {
        var result = await BuildParamsAsync(sku, replicas, partitions);
        Assert.True(result.ExitCode != 0, $"{sku} with {replicas} replicas and {partitions} partitions compiled: {result.Describe()}");
        // The error points at the property that is out of the tier's range (lines of the file BuildParamsAsync writes).
        var line = Array.IndexOf(["sku", "replicaCount", "partitionCount"], property) + 6;
        Assert.Contains(result.Diagnostics, d => d.Contains($"sizing.bicepparam({line},", StringComparison.Ordinal) && d.Contains(" : Error BCP", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("basic", 1, 1)]
    [InlineData("basic", 3, 3)]
    [InlineData("standard", 12, 3)]
    [InlineData("standard3", 2, 12)]
    [InlineData("storage_optimized_l2", 6, 6)]
    public async Task Counts_within_the_tier_compile(string sku, int replicas, int partitions)
    {
        var result = await BuildParamsAsync(sku, replicas, partitions);
        Assert.True(result.ExitCode == 0, $"{sku} with {replicas} replicas and {partitions} partitions: {result.Describe()}");
        Assert.Empty(result.Diagnostics);
    }

    /// <summary>Compiles a parameters file for main.bicep, written to a temporary folder beside nothing else.</summary>
    private static async Task<BicepResult> BuildParamsAsync(string sku, int replicas, int partitions)
    {
        var folder = Directory.CreateTempSubdirectory("vs-infra-sizing-");
        try
        {
            var main = Path.GetRelativePath(folder.FullName, Path.Combine(Repo.Infra, "main.bicep")).Replace('\\', '/');
            var file = Path.Combine(folder.FullName, "sizing.bicepparam");
            await File.WriteAllTextAsync(file, $$"""
                using '{{main}}'

                param environmentName = 'test'

                param searchSizing = {
                  sku: '{{sku}}'
                  replicaCount: {{replicas}}
                  partitionCount: {{partitions}}
                }

                """);
            return await BicepCli.RunAsync("build-params", file, "--stdout");
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
