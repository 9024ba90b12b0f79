using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using VisualSearch.Duplicates;

namespace VisualSearch.Cli;

/// <summary>
/// <c>vsearch duplicates [--index DIR] [--min-score S] [--json]</c>: every group of copies in the index, largest
/// first, with the pairs that joined them (same engine and decisions file as <c>GET /api/duplicates</c>).
/// </summary>
public static class DuplicatesCommand
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = false };

    public static async Task<int> RunAsync(CliArgs args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        args.RejectUnknown("index", "min-score", "json", "verbose");
        if (args.Positionals.Count != 0) throw new UsageException("Usage: vsearch duplicates [--index DIR] [--min-score S] [--json]");
        var minScore = args.GetFloat("min-score", -1, 1);

        using var host = EngineHost.Build(args, new Dictionary<string, string?> { ["Encoder:WarmUpOnStart"] = "false" });
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        var duplicates = host.Services.GetRequiredService<DuplicateService>();
        var groups = new List<DuplicateGroup>();
        DuplicateGroupsPage page;
        var offset = 0;
        try
        {
            do
            {
                page = await duplicates.GetGroupsAsync(new DuplicateQuery(minScore, DuplicateQuery.MaxLimit, offset), cancellationToken).ConfigureAwait(false);
                groups.AddRange(page.Groups);
                offset += page.Groups.Count;
            }
            while (page.NextCursor is not null);
        }
        catch (DuplicateGroupingNotSupportedException ex)
        {
            await stderr.WriteLineAsync($"error: {ex.Message}").ConfigureAwait(false);
            return 1;
        }

        if (args.Has("json"))
        {
            var dto = new
            {
                minScore = page.MinScore,
                total = groups.Count,
                groups = groups.Select(g => new
                {
                    kind = Kind(g.Kind),
                    items = g.Items,
                    pairs = g.Pairs.Select(p => new { a = p.A, b = p.B, score = MathF.Round(p.Score, 6), kind = Kind(p.Kind) }),
                }),
            };
            await stdout.WriteLineAsync(JsonSerializer.Serialize(dto, Json)).ConfigureAwait(false);
        }
        else if (groups.Count == 0)
        {
            await stdout.WriteLineAsync($"No duplicates at min score {page.MinScore:F3}.").ConfigureAwait(false);
        }
        else
        {
            await stdout.WriteLineAsync($"{groups.Count} group(s) at min score {page.MinScore:F3}, largest first:").ConfigureAwait(false);
            for (var i = 0; i < groups.Count; i++)
            {
                var g = groups[i];
                await stdout.WriteLineAsync($"[{i + 1}] {Kind(g.Kind)}, {g.Items.Count} items").ConfigureAwait(false);
                foreach (var p in g.Pairs)
                    await stdout.WriteLineAsync($"    {p.Score,7:F4}  {Kind(p.Kind),-5}  {p.A}  ~  {p.B}").ConfigureAwait(false);
            }
        }

        await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        return 0;
    }

    private static string Kind(DuplicateKind kind) => kind == DuplicateKind.Exact ? "exact" : "near";
}
