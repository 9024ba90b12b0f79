using System.Numerics.Tensors;
using VisualSearch.Imaging;
using VisualSearch.UnitTests.Fixtures;

namespace VisualSearch.UnitTests.Embedding;

/// <summary>The real ResNet18 on real photos: what makes the vectors useful for "find similar".</summary>
[Collection(EncoderCollection.Name)]
public sealed class ModelQualityTests(EncoderFixture fixture)
{
    public enum Edit
    {
        Jpeg30,
        CentralCrop80,
        HalfSize,
        AllThree,
    }

    public static TheoryData<string, Edit> EditedCopies()
    {
        var data = new TheoryData<string, Edit>();
        foreach (var photo in new[] { "astronaut.png", "chelsea.png", "coffee.png" })
        {
            foreach (var edit in Enum.GetValues<Edit>()) data.Add(photo, edit);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(EditedCopies))]
    public void Edited_copy_is_closer_to_its_original_than_to_any_other_photo(string photo, Edit edit)
    {
        var copy = fixture.Embed(MakeEdit(SamplePhotos.Read(photo), edit));

        var own = EncoderFixture.Cosine(copy, fixture.EmbedSample(photo));
        Assert.True(own > 0.7f, $"{photo} ({edit}): cosine to its original is only {own:F3}.");
        foreach (var other in SamplePhotos.All.Where(p => p != photo))
        {
            var cosine = EncoderFixture.Cosine(copy, fixture.EmbedSample(other));
            Assert.True(own > cosine, $"{photo} ({edit}): cosine to its original {own:F3} is not above {other} ({cosine:F3}).");
        }
    }

    [Fact]
    public void Vector_is_512_dimensional_and_unit_length()
    {
        var prepared = fixture.Decoder.Prepare(SamplePhotos.Read("chelsea.png"), fixture.Encoder.InputSize);
        var embedding = fixture.Encoder.Embed(prepared);

        Assert.Equal(512, embedding.Vector.Length);
        Assert.Equal(1f, TensorPrimitives.Norm(embedding.Vector), 1e-4f);
        Assert.True(embedding.RawNorm > 1f, $"Raw norm {embedding.RawNorm}: the model output looks empty.");
        Assert.All(embedding.Vector, v => Assert.True(float.IsFinite(v)));
        Assert.Equal(512, fixture.Encoder.Model.Dimension);
        Assert.Equal(224, fixture.Encoder.InputSize);
    }

    [Fact]
    public void Model_id_names_the_model_its_precision_and_its_dimension()
    {
        Assert.Matches("^resnet18-[0-9a-f]{12}-512$", fixture.Encoder.Model.Id);
        Assert.Matches("^resnet18-[0-9a-f]{12}-int8-512$", fixture.Int8.Model.Id);
        Assert.NotEqual(fixture.Int8.Model.Sha256, fixture.Float32.Model.Sha256);
    }

    [Fact]
    public void Embedding_the_same_image_twice_gives_identical_vectors()
    {
        var bytes = SamplePhotos.Read("coffee.png");
        Assert.Equal(fixture.Embed(bytes), fixture.Embed(bytes));
    }

    [Fact]
    public void Unrelated_photos_are_not_collapsed_onto_one_vector()
    {
        var vectors = SamplePhotos.All.Select(p => (Name: p, Vector: fixture.EmbedSample(p))).ToList();
        for (var i = 0; i < vectors.Count; i++)
        {
            for (var j = i + 1; j < vectors.Count; j++)
            {
                var cosine = EncoderFixture.Cosine(vectors[i].Vector, vectors[j].Vector);
                Assert.True(cosine < 0.9f, $"{vectors[i].Name} vs {vectors[j].Name}: cosine {cosine:F3}; the encoder collapses unrelated images.");
            }
        }
    }

    [Fact]
    public void Synthetic_images_of_different_seeds_differ()
    {
        var a = fixture.Embed(TestImages.Photo(1, 320, 240, ImageFormat.Png));
        var b = fixture.Embed(TestImages.Photo(2, 320, 240, ImageFormat.Png));
        Assert.True(EncoderFixture.Cosine(a, b) < 0.99f);
    }

    private static byte[] MakeEdit(byte[] original, Edit edit)
    {
        using var bitmap = TestImages.DecodeBitmap(original);
        switch (edit)
        {
            case Edit.Jpeg30:
                return TestImages.Encode(bitmap, ImageFormat.Jpeg, 30);
            case Edit.CentralCrop80:
                using (var cropped = TestImages.CropCentre(bitmap, 0.8))
                    return TestImages.Encode(cropped, ImageFormat.Png);
            case Edit.HalfSize:
                using (var half = TestImages.Resize(bitmap, bitmap.Width / 2, bitmap.Height / 2))
                    return TestImages.Encode(half, ImageFormat.Png);
            default:
                using (var cropped = TestImages.CropCentre(bitmap, 0.8))
                using (var half = TestImages.Resize(cropped, cropped.Width / 2, cropped.Height / 2))
                    return TestImages.Encode(half, ImageFormat.Jpeg, 30);
        }
    }
}
