using System.Collections.Concurrent;
using System.Diagnostics;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VisualSearch.Blobs;
using VisualSearch.Embedding;
using VisualSearch.Hosting;
using VisualSearch.Imaging;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;

namespace VisualSearch.Cli;

/// <summary>
/// <c>vsearch reindex (--from-folder DIR | --from-container [--container NAME]) [--index DIR] [--workers N] [--resume] [--prune]</c>:
/// builds the index of the configured model from the source images, beside the current one, then switches the
/// current-model pointer to it (atomic). Hosts keep answering from the old index until they are restarted with
/// the new model; a host started with the new model before the switch opens the new index once it is done.
/// Works on the backend VectorIndex:Provider names (the embedded index, or Azure AI Search).
/// </summary>
public static class ReindexCommand
{
    public const string Usage =
        "Usage: vsearch reindex (--from-folder DIR | --from-container [--container NAME]) [--index DIR] [--workers N] [--resume] [--prune]";

    public static Task<int> RunAsync(CliArgs args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken) =>
        RunAsync(args, stdout, stderr, configure: null, cancellationToken);

    /// <param name="configure">Settings and services added before the engine and the index are (tests: the Azure AI Search transport).</param>
    public static async Task<int> RunAsync(CliArgs args, TextWriter stdout, TextWriter stderr, Action<IHostApplicationBuilder>? configure, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        args.RejectUnknown("from-folder", "from-container", "container", "index", "workers", "resume", "prune", "verbose");
        var folder = args.Get("from-folder");
        var fromContainer = args.Has("from-container");
        if (args.Positionals.Count > 0 || (folder is null) == !fromContainer) throw new UsageException(Usage);
        if (folder is not null && !Directory.Exists(folder))
        {
            await stderr.WriteLineAsync($"error: folder not found: {Path.GetFullPath(folder)}").ConfigureAwait(false);
            return 1;
        }

        var workers = args.GetInt("workers", Math.Min(2, Environment.ProcessorCount), 1, 64);
        using var host = Build(args, workers, fromContainer, configure);
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await ReindexAsync(host.Services, args, folder, workers, stdout, stderr, cancellationToken).ConfigureAwait(false);
        }
        catch (VectorIndexException ex)
        {
            await stderr.WriteLineAsync($"error: {ex.Message}\nThe current index is unchanged: queries keep using it.").ConfigureAwait(false);
            return 1;
        }
        finally
        {
            await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static IHost Build(CliArgs args, int workers, bool fromContainer, Action<IHostApplicationBuilder>? configure)
    {
        var builder = EngineHost.CreateBuilder();
        var extra = new Dictionary<string, string?> { ["Encoder:WarmUpOnStart"] = "false" };
        if (workers > 1 && Environment.GetEnvironmentVariable("Encoder__IntraOpThreads") is null) extra["Encoder:IntraOpThreads"] = "1";
        if (fromContainer)
        {
            extra[$"{BlobSourceOptions.SectionName}:Watch"] = "false";
            if (builder.Configuration[$"{BlobSourceOptions.SectionName}:ConnectionString"] is null && builder.Configuration[$"{BlobSourceOptions.SectionName}:ServiceUri"] is null)
                extra[$"{BlobSourceOptions.SectionName}:ConnectionString"] = "UseDevelopmentStorage=true";
            if (args.Get("container") is { } container) extra[$"{BlobSourceOptions.SectionName}:Container"] = container;
        }

        builder.Configuration.AddInMemoryCollection(EngineHost.Overrides(args, extra));
        builder.Logging.SetMinimumLevel(args.Has("verbose") ? LogLevel.Information : LogLevel.Error);
        configure?.Invoke(builder);
        builder.AddVisualSearchEngine();
        builder.AddVectorIndex(VectorIndexRole.Build);
        if (fromContainer) builder.AddBlobIngestion(watch: false);
        return builder.Build();
    }

    private static async Task<int> ReindexAsync(IServiceProvider services, CliArgs args, string? folder, int workers, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var catalog = services.GetRequiredService<IVectorIndexCatalog>();
        var model = services.GetRequiredService<IImageEncoder>().Model;
        var schema = new IndexSchema(model.Id, model.Dimension);
        var currentVersion = await catalog.GetCurrentAsync(cancellationToken).ConfigureAwait(false);
        var current = currentVersion?.ModelId;
        var target = catalog.VersionName(model.Id);
        // The same model in another version (Azure AI Search: other vector compression or storage) is rebuilt, not caught up.
        var inPlace = current == model.Id && currentVersion?.Name == target;
        var source = folder is not null
            ? Path.GetFullPath(folder)
            : $"container '{services.GetRequiredService<IOptions<BlobSourceOptions>>().Value.Container}'";

        if (inPlace)
        {
            await stdout.WriteLineAsync($"Model {model.Id} is already current ({catalog.Describe(target)}): indexing new and changed images from {source} into it.").ConfigureAwait(false);
        }
        else
        {
            if ((await catalog.ListVersionsAsync(cancellationToken).ConfigureAwait(false)).Contains(target))
            {
                if (args.Has("resume"))
                {
                    await stdout.WriteLineAsync($"Resuming the unfinished build {catalog.Describe(target)} (unchanged images are skipped).").ConfigureAwait(false);
                }
                else
                {
                    await stdout.WriteLineAsync($"Removing an unfinished earlier build, {catalog.Describe(target)} (--resume keeps it).").ConfigureAwait(false);
                    await catalog.DeleteVersionAsync(target, cancellationToken).ConfigureAwait(false);
                }
            }

            await stdout.WriteLineAsync(
                $"Building {catalog.Describe(target)} for model {model.Id} from {source}; " +
                (current is null ? "no model is current yet."
                    : current == model.Id ? $"the index settings changed (current version {currentVersion?.Name}); queries keep using it until the switch."
                    : $"queries keep using model {current} until the switch.")).ConfigureAwait(false);
        }

        var sw = Stopwatch.StartNew();
        var tally = folder is not null
            ? await IngestFolderAsync(services, Path.GetFullPath(folder), workers, cancellationToken).ConfigureAwait(false)
            : await IngestContainerAsync(services, workers, cancellationToken).ConfigureAwait(false);
        var index = await services.GetRequiredService<VectorIndexAccessor>().GetAsync(cancellationToken).ConfigureAwait(false);
        var count = await index.CountAsync(cancellationToken).ConfigureAwait(false);
        await stdout.WriteLineAsync(
            $"Indexed {tally.Indexed}, unchanged {tally.Unchanged}, rejected {tally.Rejected.Count} of {tally.Total} images in {sw.Elapsed.TotalSeconds:F1} s; the index holds {count}.").ConfigureAwait(false);
        // The copy space (issue 14) is filled by the same ingest; it is not behind the pointer, so it is never switched.
        var copies = services.GetService<CopySpace>();
        string? copyVersion = null;
        if (copies is not null)
        {
            copyVersion = catalog.VersionName(copies.Encoder.Model.Id);
            var copyCount = await (await copies.Index.GetAsync(cancellationToken).ConfigureAwait(false)).CountAsync(cancellationToken).ConfigureAwait(false);
            await stdout.WriteLineAsync($"The copy space {catalog.Describe(copyVersion)} (model {copies.Encoder.Model.Id}) holds {copyCount}.").ConfigureAwait(false);
        }
        foreach (var r in tally.Rejected.OrderBy(r => r.Id, StringComparer.Ordinal))
            await stdout.WriteLineAsync($"  rejected {r.Id}: {r.Reason?.ToString() ?? "InvalidId"}: {r.Detail}").ConfigureAwait(false);

        if (inPlace) return 0;
        if (count == 0)
        {
            await stderr.WriteLineAsync($"error: the new index is empty; not switching (the current index is unchanged). Check the source: {source}.").ConfigureAwait(false);
            return 1;
        }

        // Release the new index before the switch, so that a host waiting for it can open it at once.
        switch (index)
        {
            case IAsyncDisposable asyncDisposable: await asyncDisposable.DisposeAsync().ConfigureAwait(false); break;
            case IDisposable disposable: disposable.Dispose(); break;
        }

        await catalog.SwitchToAsync(schema, cancellationToken).ConfigureAwait(false);
        await stdout.WriteLineAsync(
            $"Switched: model {model.Id} is current; hosts configured with it use {catalog.Describe(target)}. " +
            "Running hosts keep their index until restarted with the new model.").ConfigureAwait(false);

        foreach (var version in (await catalog.ListVersionsAsync(cancellationToken).ConfigureAwait(false)).Where(v => v != target && v != copyVersion))
        {
            if (!args.Has("prune"))
            {
                await stdout.WriteLineAsync($"Kept the previous version {catalog.Describe(version)} (--prune deletes it).").ConfigureAwait(false);
                continue;
            }

            try
            {
                await catalog.DeleteVersionAsync(version, cancellationToken).ConfigureAwait(false);
                await stdout.WriteLineAsync($"Deleted the previous version {catalog.Describe(version)}.").ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                await stderr.WriteLineAsync($"warning: kept {catalog.Describe(version)}: {ex.Message}").ConfigureAwait(false);
            }
        }

        return 0;
    }

    private static async Task<Tally> IngestFolderAsync(IServiceProvider services, string root, int workers, CancellationToken cancellationToken)
    {
        var ingestion = services.GetRequiredService<IngestionService>();
        var files = Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System })
            .Where(ImageFormats.HasImageExtension)
            .Order(StringComparer.Ordinal)
            .ToList();
        var tally = new Tally(files.Count);
        await Parallel.ForEachAsync(files, new ParallelOptions { MaxDegreeOfParallelism = workers, CancellationToken = cancellationToken }, async (path, ct) =>
        {
            var id = Path.GetRelativePath(root, path).Replace('\\', '/');
            if (!ItemIds.IsValid(id, out var error))
            {
                tally.Add(new IngestResult(id, IngestOutcome.Rejected, null, error));
                return;
            }

            tally.Add(await ingestion.IngestFileAsync(path, id, ct).ConfigureAwait(false));
        }).ConfigureAwait(false);
        return tally;
    }

    private static async Task<Tally> IngestContainerAsync(IServiceProvider services, int workers, CancellationToken cancellationToken)
    {
        var blobs = services.GetRequiredService<BlobServiceClient>();
        var ingestor = services.GetRequiredService<BlobIngestor>();
        var container = blobs.GetBlobContainerClient(services.GetRequiredService<IOptions<BlobSourceOptions>>().Value.Container);
        var names = new List<string>();
        await foreach (var item in container.GetBlobsAsync(cancellationToken: cancellationToken).ConfigureAwait(false)) names.Add(item.Name);
        var tally = new Tally(names.Count);
        await Parallel.ForEachAsync(names, new ParallelOptions { MaxDegreeOfParallelism = workers, CancellationToken = cancellationToken }, async (name, ct) =>
        {
            // A blob deleted since the listing gives null: it is no longer a source image.
            if (await ingestor.IngestAsync(container.GetBlobClient(name), ct).ConfigureAwait(false) is { } result) tally.Add(result);
        }).ConfigureAwait(false);
        return tally;
    }

    private sealed class Tally(int total)
    {
        private int _indexed;
        private int _unchanged;

        public int Total { get; } = total;

        public int Indexed => _indexed;

        public int Unchanged => _unchanged;

        public ConcurrentBag<IngestResult> Rejected { get; } = [];

        public void Add(IngestResult result)
        {
            switch (result.Outcome)
            {
                case IngestOutcome.Indexed: Interlocked.Increment(ref _indexed); break;
                case IngestOutcome.Unchanged: Interlocked.Increment(ref _unchanged); break;
                default: Rejected.Add(result); break;
            }
        }
    }
}
