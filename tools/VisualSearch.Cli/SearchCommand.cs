using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using VisualSearch.Imaging;
using VisualSearch.Indexing;
using VisualSearch.Search;

namespace VisualSearch.Cli;

/// <summary><c>vsearch search &lt;image&gt; [--index DIR] [--k N] [--min-score S] [--cutoff auto] [--space category|copies] [--filter F] [--json]</c>.</summary>
public static class SearchCommand
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = false };

    public static async Task<int> RunAsync(CliArgs args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        args.RejectUnknown("index", "k", "min-score", "cutoff", "space", "filter", "json", "verbose");
        if (args.Positionals.Count != 1) throw new UsageException("Usage: vsearch search <image> [--index DIR] [--k N] [--min-score S] [--cutoff auto] [--space category|copies] [--filter F] [--json]");
        var k = args.GetInt("k", SearchQuery.DefaultK, 1, SearchQuery.MaxK);
        var minScore = args.GetFloat("min-score", -1, 1);
        var cutoff = args.Get("cutoff") switch
        {
            null or "none" => CutoffMode.None,
            "auto" => CutoffMode.Auto,
            _ => throw new UsageException("--cutoff is auto or none."),
        };
        SearchSpace? space = args.Get("space") switch
        {
            null => null,
            "category" => SearchSpace.Category,
            "copies" => SearchSpace.Copies,
            _ => throw new UsageException("--space is category or copies."),
        };
        SearchFilter? filter;
        try
        {
            filter = SearchFilter.Parse(args.Get("filter"));
        }
        catch (FormatException ex)
        {
            throw new UsageException($"--filter: {ex.Message}");
        }

        var path = args.Positionals[0];
        if (!File.Exists(path))
        {
            await stderr.WriteLineAsync($"error: image not found: {path}").ConfigureAwait(false);
            return 1;
        }

        using var host = EngineHost.Build(args, new Dictionary<string, string?> { ["Encoder:WarmUpOnStart"] = "false" });
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        var search = host.Services.GetRequiredService<SearchService>();
        if (space == SearchSpace.Copies && !search.HasCopySpace)
        {
            await stderr.WriteLineAsync("error: --space copies needs a copy space (Encoder__CopyDescriptor=FeatureMap, then vsearch reindex).").ConfigureAwait(false);
            return 1;
        }

        var limit = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ImagingOptions>>().Value.MaxBytes;
        SearchResponse response;
        try
        {
            byte[] bytes;
            var file = File.OpenRead(path);
            await using (file.ConfigureAwait(false))
                bytes = await BoundedRead.ReadImageAsync(file, file.Length, limit, cancellationToken).ConfigureAwait(false);
            response = await search.SearchByImageAsync(bytes, new SearchQuery(k, minScore, filter, cutoff) { Space = space }, OwnerScope.Everyone /* the index owner's own tool */, cancellationToken).ConfigureAwait(false);
        }
        catch (ImageRejectedException ex)
        {
            await stderr.WriteLineAsync($"error: {path}: {ex.Reason}: {ex.Message}").ConfigureAwait(false);
            return 1;
        }

        if (args.Has("json"))
        {
            var dto = new
            {
                model = response.Model,
                space = response.Space == SearchSpace.Copies ? "copies" : "category",
                results = response.Results.Select(h => new { id = h.Id, score = MathF.Round(h.Score, 6), metadata = h.Metadata }),
            };
            await stdout.WriteLineAsync(JsonSerializer.Serialize(dto, Json)).ConfigureAwait(false);
        }
        else if (response.Results.Count == 0)
        {
            await stdout.WriteLineAsync("No results.").ConfigureAwait(false);
        }
        else
        {
            await stdout.WriteLineAsync($"{"score",7}  id").ConfigureAwait(false);
            foreach (var hit in response.Results)
                await stdout.WriteLineAsync($"{hit.Score,7:F4}  {hit.Id}").ConfigureAwait(false);
        }

        await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        return 0;
    }
}
