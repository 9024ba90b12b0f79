using VisualSearch.Cli;
using VisualSearch.Cli.Bench;
using VisualSearch.Indexing;

const string Usage = """
    vsearch: visual search on one machine.

    Usage:
      vsearch index <folder> [--index DIR] [--workers N] [--owner ID]
      vsearch search <image> [--index DIR] [--k N] [--min-score S] [--cutoff auto] [--space category|copies] [--filter EXPR] [--json]
      vsearch duplicates [--index DIR] [--min-score S] [--json]
      vsearch serve [--index DIR] [--urls URL] [--no-watch]
      vsearch upload <folder> [--container NAME]
      vsearch bench [--json] [--peer bench/peer] [--sizes 10000,100000,1000000] [--parts decode,ingest,percore,index,cold,real] [--quantization int8|float16|float32] [--connectivity M] [--ef N] [--ef-sweep N,N] [--build-threads N] [--build-check links|search] [--dataset DIR] [--real-count 50000] [--real-minutes M] [--cache DIR | --no-cache] [--keep]
      vsearch bench-duplicates [--count 100000] [--workers N] [--json]
      vsearch loadtest [--url http://127.0.0.1:7071] [--duration 10s] [--concurrency 1,4,16] [--mode id|image|both] [--key KEY] [--json]
      vsearch reindex (--from-folder DIR | --from-container [--container NAME]) [--index DIR] [--workers N] [--resume] [--prune]
      vsearch sizing --items N [--regions R] [--dimension D] [--replicas N] [--hnsw-m M] [--legacy-quotas] [--copy-space | --no-copy-space] [--copy-regions R] [--copy-dimension D] [--json]
      vsearch eval <folder-or-manifest> [--k 1,5,10] [--subset NAME] [--task T] [--classes all|train|test] [--head FILE] [--json]
      vsearch eval-copies <refs-folder> [--distractors DIR] [--seed N] [--limit N] [--head FILE] [--json]
      vsearch train <folder-or-manifest> --out FILE [--dim 128] [--epochs 20] [--subset NAME] [--all-classes] [--whiten] [--json]
      vsearch quantize [--out DIR]
      vsearch compare-precision <folder-or-manifest> [--subset NAME] [--task T] [--pairs N] [--json]

    The index lives in .vsearch/ of the current directory unless --index or LocalIndex__Path says otherwise.
    Encoder__Precision=Int8 runs the int8 encoder (vsearch quantize builds it; otherwise first use does), see README "The encoder".
    eval, eval-copies and train cache embeddings in ~/.cache/vsearch/embeddings (--cache DIR, --no-cache); see docs/quality.md.
    Filters: contentType eq 'image/png' and uploadedAt ge 2024-01-01T00:00:00Z (fields: contentType, source, album, owner, tag, uploadedAt).
    """;

using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cts.Cancel();
};

if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine(Usage);
    return args.Length == 0 ? 2 : 0;
}

// The one-shot commands over the engine (a process per job): no run-time code generation for what runs once (EngineHost).
if (args[0] is "index" or "reindex" or "search" or "duplicates") EngineHost.UseOneShotRuntime();

try
{
    var rest = args.Skip(1);
    return args[0] switch
    {
        "index" => await IndexCommand.RunAsync(CliArgs.Parse(rest, "verbose"), Console.Out, Console.Error, cts.Token),
        "search" => await SearchCommand.RunAsync(CliArgs.Parse(rest, "json", "verbose"), Console.Out, Console.Error, cts.Token),
        "duplicates" => await DuplicatesCommand.RunAsync(CliArgs.Parse(rest, "json", "verbose"), Console.Out, Console.Error, cts.Token),
        "serve" => await ServeCommand.RunAsync(CliArgs.Parse(rest, "no-watch", "verbose"), cts.Token),
        "upload" => await UploadCommand.RunAsync(CliArgs.Parse(rest), Console.Out, Console.Error, cts.Token),
        "bench" => await BenchCommand.RunAsync(CliArgs.Parse(rest, "json", "keep", "verbose", "no-cache"), Console.Out, Console.Error, cts.Token),
        "loadtest" => await LoadTestCommand.RunAsync(CliArgs.Parse(rest, "json", "verbose"), Console.Out, Console.Error, cts.Token),
        "bench-duplicates" => await BenchDuplicatesCommand.RunAsync(CliArgs.Parse(rest, "json", "verbose"), Console.Out, cts.Token),
        "seed-synthetic" => await SeedSyntheticCommand.RunAsync(CliArgs.Parse(rest, "verbose"), Console.Out, cts.Token),
        "reindex" => await ReindexCommand.RunAsync(CliArgs.Parse(rest, "from-container", "resume", "prune", "verbose"), Console.Out, Console.Error, cts.Token),
        "sizing" => await SizingCommand.RunAsync(CliArgs.Parse(rest, "json", "legacy-quotas", "copy-space", "no-copy-space"), Console.Out, cts.Token),
        "eval" => await EvalCommand.RunAsync(CliArgs.Parse(rest, "json", "no-cache", "verbose"), Console.Out, Console.Error, cts.Token),
        "eval-copies" => await EvalCopiesCommand.RunAsync(CliArgs.Parse(rest, "json", "no-cache", "verbose"), Console.Out, Console.Error, cts.Token),
        "compare-precision" => await ComparePrecisionCommand.RunAsync(CliArgs.Parse(rest, "json", "no-cache", "verbose"), Console.Out, Console.Error, cts.Token),
        "quantize" => await QuantizeCommand.RunAsync(CliArgs.Parse(rest, "verbose", "sensitivity", "units"), Console.Out, cts.Token),
        "train" => await TrainCommand.RunAsync(CliArgs.Parse(rest, "json", "no-cache", "all-classes", "whiten", "verbose"), Console.Out, Console.Error, cts.Token),
        _ => throw new UsageException($"Unknown command '{args[0]}'.\n\n{Usage}"),
    };
}
catch (UsageException ex)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    return 2;
}
catch (OperationCanceledException) when (cts.IsCancellationRequested)
{
    Console.Error.WriteLine("cancelled");
    return 130;
}
// Index failures arrive as VectorIndexException whatever the backend; RequestFailedException is Blob Storage's
// (vsearch upload, reindex --from-container).
catch (Exception ex) when (ex is IndexModelMismatchException or IndexRegionsMismatchException or VectorIndexException or IOException or InvalidDataException or Microsoft.Extensions.Options.OptionsValidationException or Azure.RequestFailedException)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    return 1;
}
