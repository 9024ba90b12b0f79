using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using VisualSearch.Imaging;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;

namespace VisualSearch.Cli;

/// <summary>
/// <c>vsearch index &lt;folder&gt; [--index DIR] [--workers N] [--owner ID]</c>: indexes every image below a folder,
/// owned by <c>--owner</c> (the owner id a signed-in person has: their token's oid, else sub) when given.
/// </summary>
public static class IndexCommand
{

    public static async Task<int> RunAsync(CliArgs args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        args.RejectUnknown("index", "workers", "verbose", "owner");
        if (args.Positionals.Count != 1) throw new UsageException("Usage: vsearch index <folder> [--index DIR] [--workers N] [--owner ID]");
        var owner = args.Get("owner");
        if (owner is not null && !OwnerIds.IsValid(owner))
            throw new UsageException("--owner is an owner id (a token's oid, else sub): 1-128 characters of ASCII letters, digits and - _ . @ | :.");
        var root = Path.GetFullPath(args.Positionals[0]);
        if (!Directory.Exists(root))
        {
            await stderr.WriteLineAsync($"error: folder not found: {root}").ConfigureAwait(false);
            return 1;
        }

        var workers = args.GetInt("workers", Math.Min(2, Environment.ProcessorCount), 1, 64);
        // Parallel workers each take one inference thread; one worker may use every core.
        var extra = new Dictionary<string, string?> { ["Encoder:WarmUpOnStart"] = "false" };
        if (workers > 1 && Environment.GetEnvironmentVariable("Encoder__IntraOpThreads") is null) extra["Encoder:IntraOpThreads"] = "1";

        var files = Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System })
            .Where(ImageFormats.HasImageExtension)
            .Order(StringComparer.Ordinal)
            .ToList();
        var ignored = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Count() - files.Count;

        using var host = EngineHost.Build(args, extra);
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        var ingestion = host.Services.GetRequiredService<IngestionService>();

        var indexed = 0;
        var unchanged = 0;
        var rejected = new ConcurrentBag<IngestResult>();
        var done = 0;
        var sw = Stopwatch.StartNew();
        var progress = new Progress(stderr, files.Count);
        await Parallel.ForEachAsync(files, new ParallelOptions { MaxDegreeOfParallelism = workers, CancellationToken = cancellationToken }, async (path, ct) =>
        {
            var id = Path.GetRelativePath(root, path).Replace('\\', '/');
            var result = ItemIds.IsValid(id, out var error)
                ? await ingestion.IngestFileAsync(path, id, ct, owner).ConfigureAwait(false)
                : new IngestResult(id, IngestOutcome.Rejected, null, error);

            switch (result.Outcome)
            {
                case IngestOutcome.Indexed: Interlocked.Increment(ref indexed); break;
                case IngestOutcome.Unchanged: Interlocked.Increment(ref unchanged); break;
                default: rejected.Add(result); break;
            }

            progress.Report(ref done, ref indexed, ref unchanged, rejected);
        }).ConfigureAwait(false);
        progress.Finish();
        // vsearch serve over this index shows these images (ids are paths relative to the folder).
        LocalImages.RecordRoot(host.Services.GetRequiredService<IOptions<LocalIndexOptions>>().Value.Path, root);

        var seconds = sw.Elapsed.TotalSeconds;
        await stdout.WriteLineAsync(
            $"Indexed {indexed}, unchanged {unchanged}, rejected {rejected.Count} of {files.Count} images in {seconds:F1} s" +
            (indexed > 0 ? $" ({indexed / seconds:F1} images/s)" : "") +
            (ignored > 0 ? $"; {ignored} other files ignored" : "") + ".").ConfigureAwait(false);
        foreach (var r in rejected.OrderBy(r => r.Id, StringComparer.Ordinal))
            await stdout.WriteLineAsync($"  rejected {r.Id}: {r.Reason?.ToString() ?? "InvalidId"}: {r.Detail}").ConfigureAwait(false);

        await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        return files.Count > 0 && indexed + unchanged == 0 ? 1 : files.Count == 0 ? 1 : 0;
    }

    /// <summary>A one-line progress display on stderr (redrawn on a terminal, every 10% otherwise).</summary>
    private sealed class Progress(TextWriter stderr, int total)
    {
        private readonly bool _interactive = !Console.IsErrorRedirected;
        private readonly Lock _gate = new();
        private long _lastTicks;
        private int _lastDecile = -1;

        public void Report(ref int done, ref int indexed, ref int unchanged, ConcurrentBag<IngestResult> rejected)
        {
            lock (_gate)
            {
                done++;
                var line = $"[{done}/{total}] indexed {Volatile.Read(ref indexed)}, unchanged {Volatile.Read(ref unchanged)}, rejected {rejected.Count}";
                if (_interactive)
                {
                    var now = Environment.TickCount64;
                    if (now - _lastTicks < 100 && done < total) return;
                    _lastTicks = now;
                    stderr.Write("\r" + line);
                }
                else
                {
                    var decile = total == 0 ? 10 : done * 10 / total;
                    if (decile == _lastDecile) return;
                    _lastDecile = decile;
                    stderr.WriteLine(line);
                }
            }
        }

        public void Finish()
        {
            if (_interactive && total > 0) stderr.WriteLine();
        }
    }
}
