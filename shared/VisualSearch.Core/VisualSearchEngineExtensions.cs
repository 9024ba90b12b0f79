using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VisualSearch.Diagnostics;
using VisualSearch.Embedding;
using VisualSearch.Imaging;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;
using VisualSearch.Search;

namespace VisualSearch;

public static partial class VisualSearchEngineExtensions
{
    /// <summary>
    /// Registers the engine: decoder, encoder (warmed up in the background at start), ingestion and search.
    /// An index backend is registered separately (e.g. AddLocalVectorIndex). Options are bound from the
    /// "Imaging", "Encoder", "Search", "Duplicates" and "Albums" sections and validated at start.
    /// </summary>
    public static IHostApplicationBuilder AddVisualSearchEngine(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddOptions<ImagingOptions>().Bind(builder.Configuration.GetSection(ImagingOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<EncoderOptions>().Bind(builder.Configuration.GetSection(EncoderOptions.SectionName))
            .PostConfigure(o => o.ApplyDefaults(builder.Configuration.GetSection(EncoderOptions.SectionName))).ValidateDataAnnotations()
            .Validate(o => o.Preprocessing != PreprocessingMode.MeanImageBgr || !string.IsNullOrWhiteSpace(o.MeanImageModelPath),
                "Encoder:Preprocessing MeanImageBgr needs Encoder:MeanImageModelPath.")
            .Validate(o => File.Exists(EncoderOptions.Resolve(o.ModelPath)), "Encoder:ModelPath does not name an existing file.")
            .Validate(o => string.IsNullOrWhiteSpace(o.HeadPath) || File.Exists(EncoderOptions.Resolve(o.HeadPath)), "Encoder:HeadPath does not name an existing file.")
            .Validate(o => string.IsNullOrWhiteSpace(o.CopyHeadPath) || o.CopyDescriptor != CopyDescriptorMode.None,
                "Encoder:CopyHeadPath needs Encoder:CopyDescriptor=FeatureMap (the head applies to the copy space's vectors).")
            .Validate(o => string.IsNullOrWhiteSpace(o.CopyHeadPath) || File.Exists(EncoderOptions.Resolve(o.CopyHeadPath)), "Encoder:CopyHeadPath does not name an existing file.")
            .Validate(o => o.ShorterSide % EncoderOptions.MapStride == 0 && o.SecondShorterSide % EncoderOptions.MapStride == 0 && o.MaxLongerSide % EncoderOptions.MapStride == 0,
                "Encoder:ShorterSide, SecondShorterSide and MaxLongerSide must be multiples of 32 (the network's stride).")
            .Validate(o => o.MaxLongerSide >= o.ShorterSide && o.MaxLongerSide >= o.SecondShorterSide, "Encoder:MaxLongerSide must be at least Encoder:ShorterSide and Encoder:SecondShorterSide.")
            .Validate(o => !o.Regions || o.Descriptor == DescriptorMode.FeatureMap, "Encoder:Regions needs Encoder:Descriptor=FeatureMap (regions are pooled from the feature map).")
            .Validate(o => !o.Regions || string.IsNullOrWhiteSpace(o.HeadPath), "Encoder:Regions cannot be combined with Encoder:HeadPath (the head is trained on whole-image vectors).")
            .Validate(o => o.DetailRegionSide == 0 || ((o.Descriptor == DescriptorMode.FeatureMap || o.CopyDescriptor == CopyDescriptorMode.FeatureMap)
                    && o.DetailRegionSide % EncoderOptions.MapStride == 0 && o.DetailRegionSide > o.ShorterSide && !o.Regions && (o.Descriptor != DescriptorMode.FeatureMap || string.IsNullOrWhiteSpace(o.HeadPath))
                    && string.IsNullOrWhiteSpace(o.CopyHeadPath) && o.DetailRegionWindows.Count > 0),
                "Encoder:DetailRegionSide needs Encoder:Descriptor=FeatureMap or Encoder:CopyDescriptor=FeatureMap, a multiple of 32 above Encoder:ShorterSide, " +
                "Encoder:DetailRegionCells of at least one cell, and none of Encoder:Regions, Encoder:HeadPath (with Encoder:Descriptor=FeatureMap) or Encoder:CopyHeadPath " +
                "(a head is trained on whole-image vectors; the regions would not be comparable with the whitened queries).")
            .Validate(o => o.QueryBackground == QueryBackgroundMode.None || (Enum.IsDefined(o.QueryBackground)
                    && (o.Descriptor == DescriptorMode.FeatureMap || o.CopyDescriptor == CopyDescriptorMode.FeatureMap)),
                "Encoder:QueryBackground (None, Fill, Pool, FillAndPool, Crop or CropView) needs Encoder:Descriptor=FeatureMap or Encoder:CopyDescriptor=FeatureMap (it treats a query's background in the feature map).")
            .Validate(o => o.QueryBackground != QueryBackgroundMode.CropView || o.DetailRegionSide > 0,
                "Encoder:QueryBackground=CropView needs detail regions (Encoder:DetailRegionSide): the crop view asks the items' detail regions when the whole query finds no copy.")
            .Validate(o => o.CopyDescriptor == CopyDescriptorMode.None || o.Descriptor == DescriptorMode.CentreCrop,
                "Encoder:CopyDescriptor=FeatureMap needs Encoder:Descriptor=CentreCrop (the copy space holds the feature-map vectors beside the centre-crop ones); with Encoder:Descriptor=FeatureMap leave Encoder:CopyDescriptor out or set it to None.")
            .Validate(o => Enum.IsDefined(o.QueryPrecision), "Encoder:QueryPrecision is Same or Float32.")
            .Validate(o => Enum.IsDefined(o.Int8Weights), "Encoder:Int8Weights is S8, U8 or S7.")
            .Validate(o => o.ForQueries() is null || string.IsNullOrWhiteSpace(o.HeadPath),
                "Encoder:QueryPrecision=Float32 with Encoder:Precision=Int8 cannot be combined with Encoder:HeadPath (the head is trained on the int8 model's vectors, not on float32 queries).")
            .ValidateOnStart();

        services.AddOptions<SearchOptions>().Bind(builder.Configuration.GetSection(SearchOptions.SectionName)).ValidateDataAnnotations()
            .Validate(o => QueryViewSet.TryParse(o.QueryViews, o.QueryZoom, out _, out _),
                $"Search:QueryViews must name 1 to {SearchOptions.MaxQueryViews} distinct views of Input, Mirror, Squash and Zoom, comma-separated.")
            .Validate(o => Enum.IsDefined(o.QueryViewCombination), "Search:QueryViewCombination is Mean or Best.")
            .Validate(o => Enum.IsDefined(o.CropViewRegions) && Enum.IsDefined(o.CropViewMargin),
                "Search:CropViewRegions is Crop or CropAndWhole, Search:CropViewMargin WholeOwn, ViewOwn, CropOwn or CropOnly.")
            .ValidateOnStart();

        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ColdStart>();
        services.TryAddSingleton(sp => new EmbeddingHealth(builder.Configuration["EmbeddingHealth:BaselinePath"]));
        services.TryAddSingleton<VisualSearchMetrics>();
        services.TryAddSingleton<IImageDecoder, ImageDecoder>();
        services.TryAddSingleton<DecodeGate>();
        services.TryAddSingleton<IImageEncoder, OnnxImageEncoder>();
        services.TryAddSingleton<VectorIndexAccessor>();
        // The copy space (issue 14's dual design) only when configured: every service takes it as optional.
        if (CopySpace.IsConfigured(builder.Configuration)) services.TryAddSingleton(CopySpace.Create);
        // Float32 queries against int8 items only when configured (Encoder:QueryPrecision): the search service takes it as optional.
        if (QueryEncoder.IsConfigured(builder.Configuration)) services.TryAddSingleton(QueryEncoder.Create);
        services.TryAddSingleton<IngestionService>();
        services.TryAddSingleton<SearchService>();
        Duplicates.DuplicateRegistration.Add(builder);
        Albums.AlbumRegistration.Add(builder);
        services.AddHostedService<EncoderWarmUp>();
        return builder;
    }

    /// <summary>Loads the model (and the copy space's) and runs one inference in the background, so start-up is not delayed.</summary>
    private sealed partial class EncoderWarmUp(IImageEncoder encoder, VectorIndexAccessor index, IOptions<EncoderOptions> options, ILogger<EncoderWarmUp> logger, CopySpace? copies = null) : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            if (!options.Value.WarmUpOnStart) return;
            try
            {
                await encoder.WarmUpAsync(stoppingToken).ConfigureAwait(false);
                await index.GetAsync(stoppingToken).ConfigureAwait(false);
                if (copies is not null)
                {
                    await copies.Encoder.WarmUpAsync(stoppingToken).ConfigureAwait(false);
                    await copies.Index.GetAsync(stoppingToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
            }
            catch (Exception ex)
            {
                WarmUpFailed(logger, ex);
            }
        }

        [LoggerMessage(4, LogLevel.Warning, "Warm-up failed; the first request will load the model and open the index")]
        private static partial void WarmUpFailed(ILogger logger, Exception exception);
    }
}
