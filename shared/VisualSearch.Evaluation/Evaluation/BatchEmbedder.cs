using VisualSearch.Embedding;
using VisualSearch.Imaging;

namespace VisualSearch.Evaluation;

/// <summary>Something to embed: a cache key, a way to get its encoded bytes, and a name for messages.</summary>
public sealed record EmbeddingJob(string Key, Func<byte[]> Read, string Name)
{
    /// <summary>A file on disk, keyed by its content (<see cref="EmbeddingCache.FileKey"/>).</summary>
    public static EmbeddingJob ForFile(string path) => new(EmbeddingCache.FileKey(path), () => File.ReadAllBytes(path), path);

    /// <summary>
    /// A query view to embed instead of the encoder's own input (search-side views, <see cref="ImageView"/>); null: the
    /// input, as items are embedded.
    /// </summary>
    public ImageView? View { get; init; }

    /// <summary>This job's view <paramref name="view"/>: the key names the view (the input view keeps this job's key).</summary>
    public EmbeddingJob WithView(ImageView view) => view.Kind == ImageViewKind.Input
        ? this with { View = null }
        : this with { Key = $"{Key}#view={view.Name};v=1", Name = $"{Name} [{view.Name}]", View = view };
}

/// <summary>A job that gave no embedding, and why.</summary>
public sealed record EmbeddingFailure(int Index, string Name, string Reason);

/// <summary>The embeddings of a batch in job order; null where the image was refused.</summary>
public sealed record BatchEmbedding(IReadOnlyList<Embedding.Embedding?> Results, IReadOnlyList<EmbeddingFailure> Failures, int FromCache);

/// <summary>
/// Embeds many images with the product's own decoder and encoder (the same path as ingestion), in parallel,
/// reusing and filling an <see cref="EmbeddingCache"/>.
/// </summary>
public static class BatchEmbedder
{
    /// <param name="progress">Told the number of jobs done so far, from worker threads.</param>
    /// <param name="storedItems">
    /// The jobs are stored items, not queries: with an encoder that makes detail regions (<see cref="IImageEncoder.RegionInput"/>)
    /// each gets them, as ingestion gives them (the cache is then the encoder's model id; for queries, the id without them).
    /// </param>
    /// <param name="queries">
    /// The jobs are search queries: embedded as a search embeds them (<see cref="IImageEncoder.EmbedQuery"/>), the cache
    /// then being the model's <see cref="ModelInfo.QueryId"/>.
    /// </param>
    /// <param name="cropViews">
    /// With <paramref name="queries"/>: the jobs' crop views (<see cref="IImageEncoder.EmbedQueryCrop"/>, the cache being the
    /// model's <see cref="ModelInfo.CropViewId"/>); a query without one gets its <see cref="IImageEncoder.EmbedQuery"/> vector,
    /// as <c>Encoder:QueryBackground=Crop</c> embeds it (one cache serves both).
    /// </param>
    public static BatchEmbedding Embed(
        IImageDecoder decoder,
        IImageEncoder encoder,
        IReadOnlyList<EmbeddingJob> jobs,
        EmbeddingCache? cache,
        int workers,
        IProgress<int>? progress = null,
        CancellationToken cancellationToken = default,
        bool storedItems = false,
        bool queries = false,
        bool cropViews = false)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(jobs);
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        var regionInput = storedItems ? encoder.RegionInput : null;
        if (storedItems && queries) throw new ArgumentException("Jobs are stored items or queries, not both.", nameof(queries));
        if (cropViews && (!queries || encoder.Model.CropViewId is null)) throw new ArgumentException("Crop views are of queries, with an encoder that keeps them (Encoder:QueryBackground=CropView).", nameof(cropViews));
        var modelId = cropViews ? encoder.Model.CropViewId! : queries ? encoder.Model.QueryId : regionInput is null ? encoder.Model.WithoutDetailRegions.Id : encoder.Model.Id;
        if (cache is not null && cache.ModelId != modelId)
            throw new ArgumentException($"The cache holds {cache.ModelId}; the encoder's vectors here are {modelId}.", nameof(cache));

        var results = new Embedding.Embedding?[jobs.Count];
        var failures = new System.Collections.Concurrent.ConcurrentBag<EmbeddingFailure>();
        var fromCache = 0;
        var done = 0;
        Parallel.For(0, jobs.Count, new ParallelOptions { MaxDegreeOfParallelism = workers, CancellationToken = cancellationToken }, i =>
        {
            var job = jobs[i];
            if (cache is not null && cache.TryGet(job.Key, out var cached))
            {
                results[i] = cached;
                Interlocked.Increment(ref fromCache);
            }
            else
            {
                try
                {
                    Embedding.Embedding embedding;
                    if (regionInput is { } ri && job.View is null)
                    {
                        var inputs = decoder.PrepareInputs(job.Read(), [encoder.Input, ri]);
                        embedding = encoder.Embed(inputs[0], cancellationToken) with { Regions = encoder.EmbedRegions(inputs[1], cancellationToken) };
                    }
                    else
                    {
                        var prepared = job.View is { } view ? decoder.PrepareViews(job.Read(), encoder.Input, [view])[0] : decoder.Prepare(job.Read(), encoder.Input);
                        embedding = cropViews ? encoder.EmbedQueryCrop(prepared, cancellationToken) ?? encoder.EmbedQuery(prepared, cancellationToken)
                            : queries ? encoder.EmbedQuery(prepared, cancellationToken) : encoder.Embed(prepared, cancellationToken);
                    }

                    results[i] = embedding;
                    cache?.Add(job.Key, embedding);
                }
                catch (ImageRejectedException ex)
                {
                    failures.Add(new EmbeddingFailure(i, job.Name, $"{ex.Reason}: {ex.Message}"));
                }
                catch (Exception ex) when (ex is IOException or InvalidDataException)
                {
                    failures.Add(new EmbeddingFailure(i, job.Name, ex.Message));
                }
            }

            progress?.Report(Interlocked.Increment(ref done));
        });

        return new BatchEmbedding(results, failures.OrderBy(f => f.Index).ToList(), fromCache);
    }
}
