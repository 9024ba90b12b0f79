using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using VisualSearch.Cli;
using VisualSearch.Duplicates;
using VisualSearch.Hosting;
using VisualSearch.Index.AzureSearch.Tests.Fake;
using VisualSearch.Indexing;
using VisualSearch.Testing;

namespace VisualSearch.Index.AzureSearch.Tests;

/// <summary>
/// Near-duplicate groups and decisions on both backends, hosts composed as the real ones are (the provider switch,
/// the real ResNet18 encoder, Azure AI Search over the REST fake): a photo, its byte copy and an edited (cropped,
/// halved, JPEG 30) copy among unrelated photos group alike on each, and a not-duplicates decision splits the group
/// on each.
/// </summary>
public sealed class DuplicatesOnBothBackendsTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "vsearch-dup-backends-" + Guid.NewGuid().ToString("N"));
    private readonly FakeSearchService _service = new();

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    [Theory]
    [InlineData(VectorIndexOptions.Local)]
    [InlineData(VectorIndexOptions.AzureSearch)]
    public async Task Copies_group_and_a_not_duplicates_decision_splits_them_on_each_backend(string provider)
    {
        var photos = Path.Combine(_root, "photos");
        Directory.CreateDirectory(photos);
        var astronaut = Repo.PhotoBytes("astronaut.png");
        await File.WriteAllBytesAsync(Path.Combine(photos, "astronaut.png"), astronaut);
        await File.WriteAllBytesAsync(Path.Combine(photos, "astronaut-copy.png"), astronaut);
        await File.WriteAllBytesAsync(Path.Combine(photos, "astronaut-chat.jpg"), TestImages.EditedCopy(astronaut));
        foreach (var other in new[] { "chelsea.png", "coffee.png", "retina.jpg" }) File.Copy(Repo.Photo(other), Path.Combine(photos, other));
        var args = CliArgs.Parse(["--from-folder", photos, "--workers", "2"], "from-container", "resume", "prune", "verbose");
        using (var output = new StringWriter())
            Assert.Equal(0, await ReindexCommand.RunAsync(args, output, output, b => Configure(b, provider), CancellationToken.None));

        using var host = BuildHost(provider);
        await host.StartAsync();
        var duplicates = host.Services.GetRequiredService<DuplicateService>();
        var page = await duplicates.GetGroupsAsync(new DuplicateQuery());

        var group = Assert.Single(page.Groups);
        Assert.Equal(DuplicateKind.Near, group.Kind);
        Assert.Equal(["astronaut-chat.jpg", "astronaut-copy.png", "astronaut.png"], group.Items);
        Assert.Contains(group.Pairs, p => p is { A: "astronaut-copy.png", B: "astronaut.png", Kind: DuplicateKind.Exact });
        var near = Assert.Single(group.Pairs, p => p.Kind == DuplicateKind.Near);
        Assert.InRange(near.Score, duplicates.DefaultMinScore, 1f);

        Assert.True(await duplicates.MarkNotDuplicatesAsync(near.A, near.B));
        var split = await duplicates.GetGroupsAsync(new DuplicateQuery());
        Assert.Equal(["astronaut-copy.png", "astronaut.png"], Assert.Single(split.Groups).Items);
        Assert.Equal(DuplicateKind.Exact, split.Groups[0].Kind);
        if (provider == VectorIndexOptions.AzureSearch) Assert.Empty(_service.Violations);
        await host.StopAsync();
    }

    private IHost BuildHost(string provider)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], DisableDefaults = true });
        Configure(builder, provider);
        builder.AddVisualSearchEngine();
        builder.AddVectorIndex();
        return builder.Build();
    }

    private void Configure(IHostApplicationBuilder builder, string provider)
    {
        var settings = provider == VectorIndexOptions.AzureSearch
            ? _service.Settings("images")
            : new Dictionary<string, string?> { ["VectorIndex:Provider"] = "Local", ["LocalIndex:Path"] = Path.Combine(_root, "index"), ["LocalIndex:FlushToDisk"] = "false" };
        settings["Encoder:WarmUpOnStart"] = "false";
        settings["Duplicates:DecisionsPath"] = Path.Combine(_root, "decisions.jsonl");
        builder.Configuration.AddInMemoryCollection(settings);
        if (provider == VectorIndexOptions.AzureSearch) builder.Services.AddSingleton(new AzureSearchClientSettings { Transport = _service.Transport() });
    }
}
